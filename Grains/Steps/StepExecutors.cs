namespace MeshHook.Grains.Steps;
public sealed class StepExecutors { public IStepExecutor For(string nodeType) => throw new NotImplementedException(nodeType); }
public static class StepsServiceCollectionExtensions { public static Microsoft.Extensions.DependencyInjection.IServiceCollection AddMeshHookSteps(this Microsoft.Extensions.DependencyInjection.IServiceCollection s) => s; }
