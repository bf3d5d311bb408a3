using MeshHook.Gateway.Hosting;

return await GatewayProgram.RunAsync(args);
