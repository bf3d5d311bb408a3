using MeshHook.Silo.Hosting;

return await SiloProgram.RunAsync(args);
