using MeshHook.Demo;

return await DemoProgram.RunAsync(args);
