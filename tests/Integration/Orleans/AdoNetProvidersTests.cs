using AwesomeAssertions;
using MeshHook.Tests.Integration.Orleans.TestGrains;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Storage;

namespace MeshHook.Tests.Integration.Orleans;

/// <summary>The real ADO.NET providers of Orleans 10.4.2 against the query texts in sql/0001..0004.</summary>
[Collection(OrleansClusterCollection.Name)]
public sealed class AdoNetProvidersTests(OrleansClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private IClusterClient Client => fixture.Cluster.Client;

    [Fact]
    public async Task Clustering_TwoSilos_JoinThroughTheMembershipTableAsActive()
    {
        await using var connection = await fixture.OpenConnectionAsync();
        await using var rows = new NpgsqlCommand(
            "SELECT count(*) FROM orleans_membership WHERE deployment_id = @cluster AND status = 3", connection);
        rows.Parameters.AddWithValue("cluster", fixture.ClusterId);

        await PollAsync(async () => (long)(await rows.ExecuteScalarAsync())! == 2,
            "both silos Active in orleans_membership");
        var hosts = await Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        hosts.Should().HaveCount(2);
        hosts.Keys.Should().BeEquivalentTo(fixture.Cluster.GetActiveSilos().Select(s => s.SiloAddress));
    }

    [Fact]
    public async Task Clustering_ClientGatewayList_ComesFromTheMembershipTable()
    {
        // The client was configured with ADO.NET clustering only, so this list is GatewaysQueryKey's answer.
        var gateways = await Client.ServiceProvider.GetRequiredService<IGatewayListProvider>().GetGateways();

        gateways.Select(g => g.Port).Should().BeEquivalentTo(
            fixture.Cluster.GetActiveSilos().Select(s => s.GatewayAddress.Endpoint.Port));
    }

    [Fact]
    public async Task Storage_StateWrittenThenGrainDeactivated_IsReadBackFromPostgres()
    {
        var counter = Client.GetGrain<ICounterGrain>(Random.Shared.NextInt64(1, long.MaxValue));

        await counter.Increment();
        (await counter.Increment()).Should().Be(2);
        await counter.Deactivate();

        (await counter.Get()).Should().Be(2);
        (await counter.Increment()).Should().Be(3);
        var (version, hasPayload) = await ReadStoredCounterAsync(counter.GetPrimaryKeyLong());
        version.Should().Be(3, "each write bumps the version by one, starting at 1");
        hasPayload.Should().BeTrue();
    }

    [Fact]
    public async Task Storage_RowChangedBehindTheGrainsBack_WriteFailsWithInconsistentState()
    {
        var key = Random.Shared.NextInt64(1, long.MaxValue);
        var counter = Client.GetGrain<ICounterGrain>(key);
        await counter.Increment();

        // Another writer (a second activation, a tool) moves the version on: the grain's etag is now stale.
        await using (var connection = await fixture.OpenConnectionAsync())
        await using (var bump = new NpgsqlCommand(
            "UPDATE orleans_storage SET version = version + 1 WHERE service_id = @service AND grain_type_string = @state AND grain_id_n1 = @key",
            connection))
        {
            bump.Parameters.AddWithValue("service", fixture.ServiceId);
            bump.Parameters.AddWithValue("state", CounterGrain.StateName);
            bump.Parameters.AddWithValue("key", key);
            (await bump.ExecuteNonQueryAsync()).Should().Be(1, "the row is keyed by service, state name and grain key");
        }

        var stale = async () => await counter.Increment();

        await stale.Should().ThrowAsync<InconsistentStateException>();
        var (version, _) = await ReadStoredCounterAsync(key);
        version.Should().Be(2, "the refused write changed nothing");
        // Orleans drops the activation after an inconsistent write; the next one reads the current version.
        (await counter.Increment()).Should().Be(2);
    }

    [Fact]
    public async Task Reminders_RegisteredThroughTheProvider_FireAndUnregisteringDeletesTheRow()
    {
        var ticking = Client.GetGrain<ITickingGrain>(Random.Shared.NextInt64(1, long.MaxValue));
        await using var connection = await fixture.OpenConnectionAsync();
        await using var rows = new NpgsqlCommand(
            "SELECT count(*) FROM orleans_reminders WHERE service_id = @service AND grain_id = @grain AND reminder_name = @name",
            connection);
        rows.Parameters.AddWithValue("service", fixture.ServiceId);
        rows.Parameters.AddWithValue("grain", ticking.GetGrainId().ToString());
        rows.Parameters.AddWithValue("name", TickingGrain.ReminderName);

        await ticking.Start(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(500));

        ((long)(await rows.ExecuteScalarAsync())!).Should().Be(1, "registering stores the reminder");
        await PollAsync(async () => await ticking.Ticks() >= 2, "two reminder ticks");
        await ticking.Stop();
        ((long)(await rows.ExecuteScalarAsync())!).Should().Be(0, "unregistering deletes the row");
    }

    private async Task<(int Version, bool HasPayload)> ReadStoredCounterAsync(long key)
    {
        await using var connection = await fixture.OpenConnectionAsync();
        await using var read = new NpgsqlCommand(
            "SELECT version, payload_binary IS NOT NULL FROM orleans_storage WHERE service_id = @service AND grain_type_string = @state AND grain_id_n0 = 0 AND grain_id_n1 = @key",
            connection);
        read.Parameters.AddWithValue("service", fixture.ServiceId);
        read.Parameters.AddWithValue("state", CounterGrain.StateName);
        read.Parameters.AddWithValue("key", key);
        await using var reader = await read.ExecuteReaderAsync();
        (await reader.ReadAsync()).Should().BeTrue("the counter has a stored row");
        return (reader.GetInt32(0), reader.GetBoolean(1));
    }

    private static async Task PollAsync(Func<Task<bool>> condition, string phase)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"within {Deadline.TotalSeconds:0}s, did not see: {phase}");
            }

            await Task.Delay(50);
        }
    }
}
