using Npgsql;

namespace MeshHook.Tests.Process.Infrastructure;

/// <summary>What the tests write to and read from MeshHook's tables, through SQL only (no Orleans client).</summary>
public sealed class MeshHookDatabase(string connectionString)
{
    public async Task PublishAsync(string slug, string definitionJson)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT meshhook_publish_workflow(@slug, @slug, @definition::jsonb, NULL)", connection);
        command.Parameters.AddWithValue("slug", slug);
        command.Parameters.AddWithValue("definition", definitionJson);
        await command.ExecuteScalarAsync();
    }

    /// <summary>
    /// Makes the next write that declares a silo dead in the membership table fail once, as a Postgres restart at that
    /// moment would (a sequence, so the failed transaction's rollback does not undo the "once").
    /// </summary>
    public async Task FailNextDeathDeclarationOnceAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("""
            CREATE SEQUENCE IF NOT EXISTS test_death_declarations;
            CREATE OR REPLACE FUNCTION test_fail_first_death_declaration() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.status = 6 AND OLD.status <> 6 AND nextval('test_death_declarations') = 1 THEN
                    RAISE EXCEPTION 'injected by the test: the first death declaration fails';
                END IF;
                RETURN NEW;
            END $$;
            DROP TRIGGER IF EXISTS test_fail_first_death_declaration ON orleans_membership;
            CREATE TRIGGER test_fail_first_death_declaration BEFORE UPDATE ON orleans_membership
                FOR EACH ROW EXECUTE FUNCTION test_fail_first_death_declaration();
            """, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>How many death declarations the trigger of <see cref="FailNextDeathDeclarationOnceAsync"/> has seen.</summary>
    public async Task<long> DeathDeclarationsSeenAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_death_declarations", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Creates <paramref name="count"/> queued runs (the recovery sweep of a silo starts them); returns their ids.</summary>
    /// <param name="slug">The workflow.</param>
    /// <param name="count">How many runs.</param>
    /// <param name="bodyJson">The trigger's body of every run; by default <c>{"n": i}</c>.</param>
    public async Task<Guid[]> CreateRunsAsync(string slug, int count, string? bodyJson = null)
    {
        await using var connection = await OpenAsync();
        var ids = new Guid[count];
        for (var i = 0; i < count; i++)
        {
            await using var command = new NpgsqlCommand("SELECT run_id FROM meshhook_create_run(@id, @slug, @trigger::jsonb, NULL)", connection);
            command.Parameters.AddWithValue("id", Guid.CreateVersion7());
            command.Parameters.AddWithValue("slug", slug);
            var body = bodyJson ?? $$"""{"n": {{i}}}""";
            command.Parameters.AddWithValue("trigger", $$"""{"headers": {}, "body": {{body}} }""");
            ids[i] = (Guid)(await command.ExecuteScalarAsync())!;
        }

        return ids;
    }

    /// <summary>The Orleans status (orleans_membership.status; 3 Active, 6 Dead) of the silo rows on this port, newest first.</summary>
    public async Task<List<int>> MembershipStatusesAsync(string clusterId, int siloPort)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT status FROM orleans_membership WHERE deployment_id = @cluster AND port = @port ORDER BY generation DESC", connection);
        command.Parameters.AddWithValue("cluster", clusterId);
        command.Parameters.AddWithValue("port", siloPort);
        var statuses = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            statuses.Add(reader.GetInt32(0));
        }

        return statuses;
    }

    /// <summary>The Orleans name of the newest silo row on this port.</summary>
    public async Task<string> SiloNameAsync(string clusterId, int siloPort)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT silo_name FROM orleans_membership WHERE deployment_id = @cluster AND port = @port ORDER BY generation DESC LIMIT 1", connection);
        command.Parameters.AddWithValue("cluster", clusterId);
        command.Parameters.AddWithValue("port", siloPort);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>workflow_runs.status of each run.</summary>
    public async Task<Dictionary<Guid, string>> StatusesAsync(IReadOnlyCollection<Guid> runIds)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, status FROM workflow_runs WHERE id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("ids", runIds.ToArray());
        var statuses = new Dictionary<Guid, string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            statuses[reader.GetGuid(0)] = reader.GetString(1);
        }

        return statuses;
    }

    /// <summary>How many of the runs have an event of <paramref name="type"/> for <paramref name="nodeId"/>.</summary>
    public async Task<int> CountRunsWithEventAsync(IReadOnlyCollection<Guid> runIds, string type, string nodeId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(DISTINCT run_id) FROM workflow_events WHERE run_id = ANY(@ids) AND type = @type AND payload->>'nodeId' = @node", connection);
        command.Parameters.AddWithValue("ids", runIds.ToArray());
        command.Parameters.AddWithValue("type", type);
        command.Parameters.AddWithValue("node", nodeId);
        return (int)(long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>A run's workflow_events in seq order.</summary>
    public async Task<IReadOnlyList<StoredEvent>> EventsAsync(Guid runId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT seq, type, payload::text FROM workflow_events WHERE run_id = @id ORDER BY seq, id", connection);
        command.Parameters.AddWithValue("id", runId);
        var events = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            events.Add(new StoredEvent(reader.GetInt32(0), reader.GetString(1), reader.GetString(2)));
        }

        return events;
    }

    /// <summary>The meshhook_shutdowns rows of the silo whose address starts with <paramref name="addressPrefix"/>.</summary>
    public async Task<IReadOnlyList<ShutdownRow>> ShutdownsAsync(string addressPrefix)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT silo_address, duration_ms, drain_ms, steps_completed, steps_interrupted, runs_handed_off, hooks_failed, forced
            FROM meshhook_shutdowns WHERE starts_with(silo_address, @prefix) ORDER BY id
            """,
            connection);
        command.Parameters.AddWithValue("prefix", addressPrefix);
        var rows = new List<ShutdownRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new ShutdownRow(
                reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetBoolean(7)));
        }

        return rows;
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }
}

/// <summary>One row of workflow_events.</summary>
public sealed record StoredEvent(int Seq, string Type, string PayloadJson);

/// <summary>One row of meshhook_shutdowns.</summary>
public sealed record ShutdownRow(
    string SiloAddress, int DurationMs, int DrainMs, int StepsCompleted, int StepsInterrupted, int RunsHandedOff, int HooksFailed, bool Forced);
