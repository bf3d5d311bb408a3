using MeshHook.Grains.Definitions;

namespace MeshHook.Grains.Steps;

/// <summary>Executes one node type. Executors are stateless singletons; everything a step needs is in the invocation.</summary>
public interface IStepExecutor
{
    /// <summary>The node type this executor handles ("transform", "http_call", ...).</summary>
    string NodeType { get; }

    /// <summary>
    /// Runs the step. Cancellation (run canceled, drain limit reached) arrives through
    /// <paramref name="cancellationToken"/>, and the executor must stop promptly by throwing
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken);
}

/// <summary>Everything one execution of a step gets.</summary>
/// <param name="RunId">The run; part of the Idempotency-Key of http_call.</param>
/// <param name="Node">The node to execute.</param>
/// <param name="Context">The run context <c>{trigger: {headers, body}, steps: {id: output}}</c>; read only.</param>
/// <param name="FirstStartedAt">When this step first started, as checkpointed; the same after a resume (durable delays count from it).</param>
/// <param name="Observer">Told about each HTTP attempt, for the run's history.</param>
/// <param name="SiloStopping">
/// Cancelled when this silo starts to drain. A step that can wait durably (a delay) stops waiting and answers
/// <see cref="StepOutcome.Suspended"/>; every other step ignores it and runs on until it ends or is cut off through the
/// executor's cancellation token.
/// </param>
public sealed record StepInvocation(
    Guid RunId,
    WorkflowNode Node,
    Newtonsoft.Json.Linq.JObject Context,
    DateTimeOffset FirstStartedAt,
    IStepObserver Observer,
    CancellationToken SiloStopping = default);

/// <summary>
/// The engine's own store failed while a step was being prepared (not the step's work): the run does not fail the step
/// but stops, and tries it again later, as after any failed checkpoint. <see cref="Exception.InnerException"/> is the failure.
/// </summary>
public sealed class StepStoreException(string message, Exception inner) : Exception(message, inner);

/// <summary>Receives what happens inside a step while it runs.</summary>
public interface IStepObserver
{
    /// <summary>One HTTP attempt ended: with a status code, or with an error (network failure, timeout).</summary>
    void OnHttpAttempt(HttpAttempt attempt);

    /// <summary>
    /// Called before each HTTP attempt after the first, once the attempts before it were reported, and outside the
    /// attempt's timeout. The run checkpoints the attempts so far here, so that an activation another one has written
    /// past is refused before it calls the peer again. An exception thrown here ends the step at once, without another
    /// attempt; the executor must let it through (it is not a failure of the step). May be called on any thread.
    /// </summary>
    Task BeforeRetryAsync();
}

/// <summary>One HTTP attempt of an http_call step. Carries no header or body: history never holds payloads of the peer.</summary>
public sealed record HttpAttempt(int Attempt, int? StatusCode, string? Error, TimeSpan Elapsed);

/// <summary>How a step ended.</summary>
public abstract record StepOutcome
{
    private StepOutcome()
    {
    }

    /// <summary>The step succeeded. <paramref name="BranchLabel"/> is set by branch ("true"/"false").</summary>
    public sealed record Succeeded(Newtonsoft.Json.Linq.JToken Output, string? BranchLabel = null) : StepOutcome;

    /// <summary>
    /// The step failed for good (retries exhausted, non-retryable status, bad expression result). <see cref="Error"/> is
    /// cut to <see cref="MaxErrorLength"/> characters: it goes into the run's history and its row, and a library's
    /// message can quote data of any size.
    /// </summary>
    public sealed record Failed(string Error) : StepOutcome
    {
        /// <summary>The longest error kept, in characters.</summary>
        public const int MaxErrorLength = 2000;

        public string Error { get; init; } = Error.Length <= MaxErrorLength ? Error : string.Concat(Error.AsSpan(0, MaxErrorLength - 1), "…");
    }

    /// <summary>The step ends the run with <paramref name="Status"/>.</summary>
    public sealed record Terminated(RunStatus Status) : StepOutcome;

    /// <summary>
    /// A durable wait stopped because the silo drains (<see cref="StepInvocation.SiloStopping"/>): nothing happened
    /// outside, and the step goes on where the run resumes, with its original due time.
    /// </summary>
    public sealed record Suspended : StepOutcome;

    /// <summary>The user canceled the run while the step ran. Set by the run's step runner, never by an executor.</summary>
    public sealed record Canceled : StepOutcome;

    /// <summary>
    /// The step was cut off (drain limit, forced stop) before it ended; <paramref name="Reason"/> says which. It was not
    /// checkpointed and runs again, with the same Idempotency-Key, where the run resumes. Set by the step runner, never
    /// by an executor.
    /// </summary>
    public sealed record Interrupted(string Reason) : StepOutcome;
}
