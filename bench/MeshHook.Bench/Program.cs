using MeshHook.Bench;

return await BenchProgram.RunAsync(args);
