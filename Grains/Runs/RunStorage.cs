using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;

namespace MeshHook.Grains.Runs;

/// <summary>
/// The grain storage of runs: a run's state is its row and its history in MeshHook's tables, not a serialized blob.
/// A write is one checkpoint (<see cref="RunStore.CheckpointAsync"/>): the events added since the last write and the
/// row, in one transaction, so its cost does not grow with the run. A read rebuilds the state from the row and the
/// history (<see cref="RunJournal"/>) in one round trip. The ETag is the run's last seq: a stale activation's write is
/// refused with <see cref="InconsistentStateException"/>, as with any Orleans storage. The write also keeps the run's
/// Orleans reminder: its row exists while the run is unfinished and goes with the checkpoint that finishes it (sql/0105).
/// </summary>
public sealed class RunStorage(RunStore store, ILocalSiloDetails silo, IOptions<ClusterOptions> cluster, IOptions<RunOptions> options) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = await store.LoadAsync(RunIdOf(grainId), CancellationToken.None);
        if (stored is null)
        {
            grainState.RecordExists = false;
            grainState.ETag = null;
            return;
        }

        var run = RunJournal.Replay(stored.Events, stored.Record.Status, stored.OutputJson, stored.Error);
        run.Record = stored.Record;
        grainState.State = As<T>(run);
        grainState.ETag = stored.Record.MaxSeq.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var run = grainState.State as RunState ?? throw new NotSupportedException($"{nameof(RunStorage)} stores {nameof(RunState)} only");
        var expected = int.Parse(grainState.ETag ?? throw new InconsistentStateException("the run was never read from storage"), System.Globalization.CultureInfo.InvariantCulture);
        var reminder = RunReminderRow.For(cluster.Value.ServiceId, grainId, WorkflowRunGrain.ReminderName, options.Value.ReminderPeriod);
        var row = new RunRowUpdate(run.Status, run.OutputJson, run.Error, silo.SiloAddress.ToString(), reminder);
        try
        {
            var lastSeq = await store.CheckpointAsync(RunIdOf(grainId), expected, run.Pending, row, CancellationToken.None);
            grainState.ETag = lastSeq.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (StaleRunException e)
        {
            throw new InconsistentStateException(e.Message, storedEtag: null, currentEtag: grainState.ETag, e);
        }

        run.Pending.Clear();
    }

    /// <summary>A run's history is append-only: nothing clears it.</summary>
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        throw new NotSupportedException("a run's state is its history, which is append-only");

    private static Guid RunIdOf(GrainId grainId) => grainId.GetGuidKey();

    private static T As<T>(RunState run) =>
        run is T state ? state : throw new NotSupportedException($"{nameof(RunStorage)} stores {nameof(RunState)} only");
}
