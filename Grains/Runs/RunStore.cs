using Npgsql;
using NpgsqlTypes;

namespace MeshHook.Grains.Runs;

/// <summary>Reads and writes MeshHook's run tables (workflow_runs, workflow_events) for the run grains and the silo.</summary>
public sealed class RunStore(NpgsqlDataSource dataSource)
{
    /// <summary>Loads a run with its definition, or null when no such run exists.</summary>
    public async Task<RunRecord?> LoadAsync(Guid runId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT r.slug, d.version, d.definition::text, r.trigger::text, r.status,
                   coalesce((SELECT max(e.seq) FROM workflow_events e WHERE e.run_id = r.id), 0)
            FROM workflow_runs r
            JOIN workflow_definitions d ON d.id = r.workflow_id
            WHERE r.id = @id
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("id", runId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new RunRecord(
            runId,
            reader.GetString(0),
            reader.GetInt32(1),
            reader.GetString(2),
            reader.GetString(3),
            ParseStatus(reader.GetString(4)),
            reader.GetInt32(5));
    }

    /// <summary>
    /// Appends events (idempotent on (run_id, seq): an event already there is left as it is) and, in the
    /// same transaction, brings workflow_runs up to date.
    /// </summary>
    public async Task AppendAsync(Guid runId, IReadOnlyList<RunEvent> events, RunRowUpdate? update, CancellationToken cancellationToken)
    {
        if (events.Count == 0 && update is null)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (events.Count > 0)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO workflow_events (run_id, seq, ts, type, payload)
                SELECT @run, s, t, ty, p::jsonb FROM unnest(@seqs, @tss, @types, @payloads) AS e(s, t, ty, p)
                ON CONFLICT (run_id, seq) DO NOTHING
                """);
            insert.Parameters.AddWithValue("run", runId);
            insert.Parameters.Add(new NpgsqlParameter("seqs", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = events.Select(e => e.Seq).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter("tss", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = events.Select(e => e.Timestamp.UtcDateTime).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter("types", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = events.Select(e => e.Type).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter("payloads", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = events.Select(e => e.PayloadJson).ToArray() });
            batch.BatchCommands.Add(insert);
        }

        if (update is not null)
        {
            var status = update.Status.ToText();
            var set = new NpgsqlBatchCommand("""
                UPDATE workflow_runs SET
                    status = @status,
                    output = @output::jsonb,
                    error = @error,
                    silo = @silo,
                    started_at = CASE WHEN @status <> 'queued' THEN coalesce(started_at, now()) ELSE started_at END,
                    finished_at = CASE WHEN @status IN ('succeeded', 'failed', 'canceled') THEN coalesce(finished_at, now()) ELSE NULL END,
                    updated_at = now()
                WHERE id = @run
                """);
            set.Parameters.AddWithValue("run", runId);
            set.Parameters.AddWithValue("status", status);
            set.Parameters.Add(new NpgsqlParameter("output", NpgsqlDbType.Text) { Value = (object?)update.OutputJson ?? DBNull.Value });
            set.Parameters.Add(new NpgsqlParameter("error", NpgsqlDbType.Text) { Value = (object?)update.Error ?? DBNull.Value });
            set.Parameters.AddWithValue("silo", update.Silo);
            batch.BatchCommands.Add(set);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
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

    /// <summary>Creates a queued run and its run_created event in one transaction (see sql/0101); idempotent on the key.</summary>
    public async Task<(Guid RunId, bool Created)> CreateRunAsync(string slug, string triggerJson, string? idempotencyKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT run_id, created FROM meshhook_create_run(@id, @slug, @trigger::jsonb, @key)");
        command.Parameters.AddWithValue("id", Guid.CreateVersion7());
        command.Parameters.AddWithValue("slug", slug);
        command.Parameters.AddWithValue("trigger", triggerJson);
        command.Parameters.Add(new NpgsqlParameter("key", NpgsqlDbType.Text) { Value = (object?)idempotencyKey ?? DBNull.Value });
        if (!IsJson(triggerJson))
        {
            throw new ArgumentException("the trigger is not valid JSON", nameof(triggerJson));
        }

        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return (reader.GetGuid(0), reader.GetBoolean(1));
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
    public async Task<int> PublishAsync(string slug, string name, string definitionJson, string? secret, CancellationToken cancellationToken)
    {
        var validation = Definitions.DefinitionValidator.Validate(definitionJson);
        if (!validation.IsValid)
        {
            throw new InvalidDefinitionException(validation.Problems);
        }

        await using var command = dataSource.CreateCommand("SELECT meshhook_publish_workflow(@slug, @name, @definition::jsonb, @secret)");
        command.Parameters.AddWithValue("slug", slug);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("definition", definitionJson);
        command.Parameters.Add(new NpgsqlParameter("secret", NpgsqlDbType.Text) { Value = (object?)secret ?? DBNull.Value });
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
            SELECT version, name, definition::text, secret FROM workflow_definitions
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

        return new PublishedWorkflow(slug, reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

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
