namespace MeshHook.Tests.Integration.Orleans.TestGrains;

/// <summary>A counter whose value lives in the ADO.NET grain storage provider.</summary>
public interface ICounterGrain : IGrainWithIntegerKey
{
    Task<int> Increment();

    Task<int> Get();

    Task Deactivate();
}

/// <summary>The counter's stored state; annotated because Orleans 10's storage serializer refuses unknown types on read.</summary>
[GenerateSerializer, Immutable]
public sealed record CounterState([property: Id(0)] int Count);

/// <summary>Reads and writes its state through the provider under test, with no caching of its own.</summary>
public sealed class CounterGrain(
    [PersistentState(CounterGrain.StateName, OrleansClusterFixture.StorageName)] IPersistentState<CounterState> state)
    : Grain, ICounterGrain
{
    /// <summary>The name the provider receives as @GrainTypeString and stores in grain_type_string.</summary>
    public const string StateName = "counter";

    public async Task<int> Increment()
    {
        state.State = new CounterState((state.State?.Count ?? 0) + 1);
        await state.WriteStateAsync();
        return state.State.Count;
    }

    public Task<int> Get() => Task.FromResult(state.State?.Count ?? 0);

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}
