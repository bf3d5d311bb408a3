using MeshHook.Grains.Security;
using Npgsql;
using NpgsqlTypes;

namespace MeshHook.Grains.Runs;

/// <summary>
/// Reads and writes MeshHook's run tables (workflow_runs, workflow_events) for the run grains and the silo. With
/// <paramref name="secrets"/>, webhook secrets are stored encrypted (<see cref="SecretBox"/>); without, as they are.
/// </summary>
public sealed class RunStore(NpgsqlDataSource dataSource, SecretBox? secrets = null)
{
    /// <summary>
    /// Loads a run with its definition, its row's output and error, and its whole history, in one round trip;
    /// null when no such run exists.
    /// </summary>
    public async Task<StoredRun?> LoadAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        var run = new NpgsqlBatchCommand("""
            SELECT r.slug, d.version, d.definition::text, r.trigger::text, r.status, r.last_seq, r.output::text, r.error, r.trace_parent
            FROM workflow_runs r
            JOIN workflow_definitions d ON d.id = r.workflow_id
            WHERE r.id = @id
            """);
        run.Parameters.AddWithValue("id", runId);
        var events = new NpgsqlBatchCommand("SELECT seq, ts, type, payload::text FROM workflow_events WHERE run_id = @id ORDER BY seq");
        events.Parameters.AddWithValue("id", runId);
        batch.BatchCommands.Add(run);
        batch.BatchCommands.Add(events);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var record = new RunRecord(
            runId,
            reader.GetString(0),
            reader.GetInt32(1),
            reader.GetString(2),
            reader.GetString(3),
            ParseStatus(reader.GetString(4)),
            reader.GetInt32(5),
            reader.IsDBNull(8) ? null : reader.GetString(8));
        var output = reader.IsDBNull(6) ? null : reader.GetString(6);
        var error = reader.IsDBNull(7) ? null : reader.GetString(7);
        await reader.NextResultAsync(cancellationToken);
        var history = new List<RunEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            history.Add(new RunEvent(reader.GetInt32(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3)));
        }

        return new StoredRun(record, history, output, error);
    }

    /// <summary>
    /// One checkpoint, in one statement and one transaction (sql/0104, sql/0105): appends <paramref name="events"/>, which
    /// must be numbered from <paramref name="expectedLastSeq"/> + 1 on, sets the run's row, and keeps the run's reminder
    /// row when <see cref="RunRowUpdate.Reminder"/> is set. Returns the run's new last seq.
    /// </summary>
    /// <exception cref="StaleRunException">The run's last seq is no longer <paramref name="expectedLastSeq"/>: another
    /// activation wrote since, and nothing was written.</exception>
    public async Task<int> CheckpointAsync(Guid runId, int expectedLastSeq, IReadOnlyList<RunEvent> events, RunRowUpdate row, CancellationToken cancellationToken)
    {
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Seq != expectedLastSeq + 1 + i)
            {
                throw new ArgumentException($"event {i} of the checkpoint has seq {events[i].Seq}, expected {expectedLastSeq + 1 + i}", nameof(events));
            }
        }

        await using var command = dataSource.CreateCommand(
            "SELECT meshhook_checkpoint(@run, @expected, @tss, @types, @payloads, @status, @output, @error, @silo, @rService, @rGrain, @rName, @rHash, @rPeriod)");
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.AddWithValue("expected", expectedLastSeq);
        command.Parameters.Add(new NpgsqlParameter("tss", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = events.Select(e => e.Timestamp.UtcDateTime).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("types", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = events.Select(e => e.Type).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("payloads", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = events.Select(e => e.PayloadJson).ToArray() });
        command.Parameters.AddWithValue("status", row.Status.ToText());
        command.Parameters.Add(new NpgsqlParameter("output", NpgsqlDbType.Text) { Value = (object?)row.OutputJson ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("error", NpgsqlDbType.Text) { Value = (object?)row.Error ?? DBNull.Value });
        command.Parameters.AddWithValue("silo", row.Silo);
        var reminder = row.Reminder;
        command.Parameters.Add(new NpgsqlParameter("rService", NpgsqlDbType.Text) { Value = (object?)reminder?.ServiceId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("rGrain", NpgsqlDbType.Text) { Value = (object?)reminder?.GrainId ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("rName", NpgsqlDbType.Text) { Value = (object?)reminder?.Name ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("rHash", NpgsqlDbType.Integer) { Value = (object?)reminder?.GrainHash ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("rPeriod", NpgsqlDbType.Bigint) { Value = (object?)reminder?.PeriodMs ?? DBNull.Value });
        var lastSeq = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        return lastSeq >= 0 ? lastSeq : throw new StaleRunException(runId, expectedLastSeq);
    }

    /// <summary>
    /// Unfinished runs (queued, running) that nothing is moving, oldest first: runs last checkpointed by a silo
    /// that is not in <paramref name="activeSilos"/> (dead, or a cluster that was down), runs never started for
    /// <paramref name="unstartedFor"/>, and runs whose row has not changed for <paramref name="quietFor"/>.
    /// Only this silo's share (<paramref name="shareIndex"/> of <paramref name="shares"/>, by run id hash) is
    /// returned, so survivors split a backlog instead of all starting every run.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> FindStalledAsync(
        IReadOnlyCollection<string> activeSilos, TimeSpan unstartedFor, TimeSpan quietFor, int shareIndex, int shares, int limit, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT id FROM workflow_runs
            WHERE status IN ('queued', 'running')
              AND ((silo IS NOT NULL AND NOT (silo = ANY(@active)))
                   OR (silo IS NULL AND created_at < now() - @unstarted)
                   OR updated_at < now() - @quiet)
              AND (hashtext(id::text) & 2147483647) % @shares = @share
            ORDER BY created_at
            LIMIT @limit
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter("active", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = activeSilos.ToArray() });
        command.Parameters.AddWithValue("unstarted", unstartedFor);
        command.Parameters.AddWithValue("quiet", quietFor);
        command.Parameters.AddWithValue("share", shareIndex);
        command.Parameters.AddWithValue("shares", Math.Max(1, shares));
        command.Parameters.AddWithValue("limit", limit);
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    /// <summary>
    /// Creates a queued run and its run_created event in one transaction (see sql/0108); idempotent on the key. While
    /// tracing, the run keeps the caller's trace context (<see cref="RunTracing.StartCreate"/>).
    /// </summary>
    public async Task<(Guid RunId, bool Created)> CreateRunAsync(string slug, string triggerJson, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var span = RunTracing.StartCreate(slug, out var traceParent);
        await using var command = dataSource.CreateCommand("SELECT run_id, created FROM meshhook_create_run(@id, @slug, @trigger::jsonb, @key, @trace)");
        command.Parameters.AddWithValue("id", Guid.CreateVersion7());
        command.Parameters.AddWithValue("slug", slug);
        command.Parameters.AddWithValue("trigger", triggerJson);
        command.Parameters.Add(new NpgsqlParameter("key", NpgsqlDbType.Text) { Value = (object?)idempotencyKey ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("trace", NpgsqlDbType.Text) { Value = (object?)traceParent ?? DBNull.Value });
        if (!IsJson(triggerJson))
        {
            throw new ArgumentException("the trigger is not valid JSON", nameof(triggerJson));
        }

        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var (runId, created) = (reader.GetGuid(0), reader.GetBoolean(1));
            span?.SetTag("meshhook.run_id", runId.ToString());
            span?.SetTag("meshhook.created", created);
            return (runId, created);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.NoDataFound)
        {
            throw new WorkflowNotFoundException(slug);
        }
    }

    /// <summary>
    /// Validates and publishes a new immutable version of a workflow (see sql/0101); returns its version number.
    /// An invalid definition throws <see cref="InvalidDefinitionException"/> with every problem, and nothing is written.
    /// </summary>
    public Task<int> PublishAsync(string slug, string name, string definitionJson, string? secret, CancellationToken cancellationToken) =>
        PublishAsync(slug, name, definitionJson, secret, signatureMaxAge: null, cancellationToken);

    /// <summary>
    /// As above; with <paramref name="signatureMaxAge"/> the workflow's webhooks must be signed with a timestamp no
    /// older than that (sql/0106).
    /// </summary>
    public async Task<int> PublishAsync(string slug, string name, string definitionJson, string? secret, TimeSpan? signatureMaxAge, CancellationToken cancellationToken)
    {
        var validation = Definitions.DefinitionValidator.Validate(definitionJson);
        if (!validation.IsValid)
        {
            throw new InvalidDefinitionException(validation.Problems);
        }

        await using var command = dataSource.CreateCommand("SELECT meshhook_publish_workflow(@slug, @name, @definition::jsonb, @secret, @maxAge)");
        command.Parameters.AddWithValue("slug", slug);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("definition", definitionJson);
        var stored = secret is null ? null : secrets?.Protect(secret, SecretPurpose(slug)) ?? secret;
        command.Parameters.Add(new NpgsqlParameter("secret", NpgsqlDbType.Text) { Value = (object?)stored ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("maxAge", NpgsqlDbType.Integer) { Value = signatureMaxAge is { } age ? (int)age.TotalSeconds : DBNull.Value });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>A run's history in order.</summary>
    public async Task<IReadOnlyList<RunEvent>> ReadEventsAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT seq, ts, type, payload::text FROM workflow_events WHERE run_id = @id ORDER BY seq");
        command.Parameters.AddWithValue("id", runId);
        var events = new List<RunEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new RunEvent(reader.GetInt32(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3)));
        }

        return events;
    }

    /// <summary>
    /// The latest published version of a workflow, or null when the slug has none. The result carries the
    /// webhook secret for intake's signature check: never hand it out.
    /// </summary>
    public async Task<PublishedWorkflow?> FindLatestWorkflowAsync(string slug, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT version, name, definition::text, secret, signature_max_age_seconds FROM workflow_definitions
            WHERE slug = @slug AND status = 'published'
            ORDER BY version DESC
            LIMIT 1
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("slug", slug);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new PublishedWorkflow(
            slug,
            reader.GetInt32(0),
            reader.GetString(1),
            reader.GetString(2),
            reader.IsDBNull(3) ? null : secrets?.Unprotect(reader.GetString(3), SecretPurpose(slug)) ?? reader.GetString(3),
            reader.IsDBNull(4) ? null : TimeSpan.FromSeconds(reader.GetInt32(4)));
    }

    /// <summary>A webhook secret is bound to its workflow: copied to another row, it does not decrypt.</summary>
    private static string SecretPurpose(string slug) => $"meshhook.webhook-secret:{slug}";

    private static bool IsJson(string text)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    internal static RunStatus ParseStatus(string text) => text switch
    {
        "queued" => RunStatus.Queued,
        "running" => RunStatus.Running,
        "succeeded" => RunStatus.Succeeded,
        "failed" => RunStatus.Failed,
        "paused" => RunStatus.Paused,
        "canceled" => RunStatus.Canceled,
        _ => throw new InvalidOperationException($"unknown run status '{text}' in workflow_runs"),
    };
}

/// <summary>A run as Postgres holds it: its record, its history in seq order, and its row's output, error and reminder flag.</summary>
public sealed record StoredRun(RunRecord Record, IReadOnlyList<RunEvent> Events, string? OutputJson, string? Error);

/// <summary>A checkpoint was refused: another activation of the run wrote since this one read or last wrote it.</summary>
public sealed class StaleRunException(Guid runId, int expectedLastSeq)
    : Exception($"run {runId} was written past seq {expectedLastSeq} by another activation; this one is stale")
{
    public Guid RunId { get; } = runId;
}

/// <summary>No published workflow has the slug.</summary>
public sealed class WorkflowNotFoundException(string slug) : Exception($"no published workflow with slug '{slug}'")
{
    public string Slug { get; } = slug;
}

/// <summary>A definition was refused; <see cref="Problems"/> lists everything wrong with it.</summary>
public sealed class InvalidDefinitionException(IReadOnlyList<Definitions.DefinitionProblem> problems)
    : Exception($"invalid workflow definition: {string.Join("; ", problems)}")
{
    public IReadOnlyList<Definitions.DefinitionProblem> Problems { get; } = problems;
}
