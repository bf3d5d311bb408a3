using System.Data;
using AwesomeAssertions;
using static MeshHook.Tests.Integration.Orleans.OrleansQueryDatabase;

namespace MeshHook.Tests.Integration.Orleans;

/// <summary>
/// The query texts' semantics, called directly: the corners the running providers seldom reach
/// (stale versions, duplicates, wrapped hash ranges) but on which their correctness rests.
/// </summary>
public sealed class OrleansQuerySemanticsTests(OrleansQueryDatabase db) : IClassFixture<OrleansQueryDatabase>
{
    private const int Active = 3;
    private const int Dead = 6;

    [Fact]
    public void OrleansQuery_EveryKeyTheProvidersRequire_IsPresent()
    {
        db.Queries.Keys.Should().BeEquivalentTo(
        [
            "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey", "UpdateIAmAlivetimeKey",
            "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey",
            "CleanupDefunctSiloEntriesKey", "GatewaysQueryKey",
            "WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey", "DeleteStorageKey",
            "UpsertReminderRowKey", "ReadReminderRowKey", "ReadReminderRowsKey", "ReadRangeRows1Key",
            "ReadRangeRows2Key", "DeleteReminderRowKey", "DeleteReminderRowsKey",
        ]);
    }

    [Fact]
    public async Task Membership_StaleVersionOrDuplicateSilo_IsRefusedAndChangesNothing()
    {
        var cluster = NewId();
        (await db.ScalarAsync("InsertMembershipVersionKey", Cluster(cluster))).Should().Be(true);
        (await db.ScalarAsync("InsertMembershipVersionKey", Cluster(cluster))).Should().Be(false, "the version row exists once");

        (await InsertSiloAsync(cluster, port: 11111, version: 0)).Should().BeTrue();
        (await InsertSiloAsync(cluster, port: 11112, version: 0)).Should().BeFalse("version 0 is stale after the first insert");
        (await InsertSiloAsync(cluster, port: 11111, version: 1)).Should().BeFalse("that silo is already a member");
        (await UpdateSiloAsync(cluster, port: 11111, Active, version: 0)).Should().BeFalse("version 0 is stale");
        (await UpdateSiloAsync(cluster, port: 11199, Active, version: 1)).Should().BeFalse("no such silo");

        var table = await ReadAllAsync(cluster);
        table.Should().ContainSingle();
        table[0]["Version"].Should().Be(1, "refused writes do not move the version");
        table[0]["Status"].Should().Be(1, "the refused update did not apply");

        (await UpdateSiloAsync(cluster, port: 11111, Active, version: 1)).Should().BeTrue();
        (await InsertSiloAsync(cluster, port: 11112, version: 2)).Should().BeTrue();
        table = await ReadAllAsync(cluster);
        table.Select(r => r["Version"]).Should().AllBeEquivalentTo(3);
        table.Select(r => r["Port"]).Should().BeEquivalentTo([11111, 11112]);
    }

    [Fact]
    public async Task Membership_Reads_ReturnTheVersionRowEvenWithoutMembersAndKeepTimesInUtc()
    {
        var cluster = NewId();
        await db.ScalarAsync("InsertMembershipVersionKey", Cluster(cluster));

        var empty = await ReadAllAsync(cluster);
        empty.Should().ContainSingle().Which["StartTime"].Should().BeNull("no member: Orleans sees only the version");
        empty[0]["Version"].Should().Be(0);

        var start = new DateTime(2030, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);
        (await InsertSiloAsync(cluster, port: 11111, version: 0, start: start)).Should().BeTrue();
        var alive = start.AddMinutes(1);
        await db.QueryAsync("UpdateIAmAlivetimeKey",
            Cluster(cluster), P("Address", "127.0.0.1", DbType.String), P("Port", 11111, DbType.Int32),
            P("Generation", 7, DbType.Int32), P("IAmAliveTime", alive, DbType.DateTime));

        var row = (await ReadRowAsync(cluster, port: 11111)).Should().ContainSingle().Subject;
        row["Version"].Should().Be(1, "a heartbeat never bumps the version");
        ((DateTime)row["StartTime"]!).Should().Be(start).And.BeIn(DateTimeKind.Utc);
        ((DateTime)row["IAmAliveTime"]!).Should().Be(alive);
        var missing = (await ReadRowAsync(cluster, port: 22222)).Should().ContainSingle().Subject;
        missing["Version"].Should().Be(1);
        missing["StartTime"].Should().BeNull();
    }

    [Fact]
    public async Task Membership_CleanupAndDelete_TouchOnlyTheirOwnClustersRows()
    {
        var cluster = NewId();
        var other = NewId();
        var old = DateTime.UtcNow.AddHours(-2);
        foreach (var id in new[] { cluster, other })
        {
            await db.ScalarAsync("InsertMembershipVersionKey", Cluster(id));
            (await InsertSiloAsync(id, port: 1, version: 0, alive: old)).Should().BeTrue();
            (await UpdateSiloAsync(id, port: 1, Dead, version: 1, alive: old)).Should().BeTrue();
            (await InsertSiloAsync(id, port: 2, version: 2, alive: old)).Should().BeTrue();
            (await UpdateSiloAsync(id, port: 2, Active, version: 3, alive: old)).Should().BeTrue();
            (await InsertSiloAsync(id, port: 3, version: 4, alive: DateTime.UtcNow)).Should().BeTrue();
        }

        await db.QueryAsync("CleanupDefunctSiloEntriesKey", Cluster(cluster), P("IAmAliveTime", DateTime.UtcNow.AddHours(-1), DbType.DateTime));

        (await ReadAllAsync(cluster)).Select(r => r["Port"]).Should().BeEquivalentTo([2, 3], "only the old, not-active silo goes");
        (await ReadAllAsync(other)).Should().HaveCount(3);
        var gateways = await db.QueryAsync("GatewaysQueryKey", Cluster(cluster), P("Status", Active, DbType.Int32));
        gateways.Should().ContainSingle().Which["ProxyPort"].Should().Be(30002);

        await db.QueryAsync("DeleteMembershipTableEntriesKey", Cluster(cluster));

        (await ReadAllAsync(cluster)).Should().BeEmpty("the members and the version row are gone");
        (await ReadAllAsync(other)).Should().HaveCount(3);
    }

    [Theory]
    [InlineData("ReadRangeRows1Key", -100, 100, new[] { 0, 100 })]
    [InlineData("ReadRangeRows1Key", int.MinValue, int.MaxValue, new[] { -100, 0, 100, int.MaxValue })]
    [InlineData("ReadRangeRows2Key", 100, -100, new[] { int.MinValue, -100, int.MaxValue })]
    [InlineData("ReadRangeRows2Key", int.MaxValue, int.MinValue, new[] { int.MinValue })]
    [InlineData("ReadRangeRows2Key", 0, 0, new[] { int.MinValue, -100, 0, 100, int.MaxValue })]
    public async Task Reminders_RangeQuery_ReturnsTheSignedHashesInBeginExclusiveEndInclusive(
        string queryKey, int begin, int end, int[] expected)
    {
        var service = NewId();
        foreach (var hash in new[] { int.MinValue, -100, 0, 100, int.MaxValue })
        {
            await UpsertReminderAsync(service, $"grain/{hash}", hash);
        }

        var rows = await db.QueryAsync(queryKey, Service(service), P("BeginHash", begin, DbType.Int32), P("EndHash", end, DbType.Int32));

        rows.Select(r => (string)r["GrainId"]!).Should().BeEquivalentTo(expected.Select(h => $"grain/{h}"));
    }

    [Fact]
    public async Task Reminders_UpsertAndDelete_FollowTheEtag()
    {
        var service = NewId();
        var first = await UpsertReminderAsync(service, "grain/1", 1);
        var second = await UpsertReminderAsync(service, "grain/1", 1, period: 5_000_000_000L);
        second.Should().NotBe(first, "re-upserting changes the etag");

        var row = (await db.QueryAsync("ReadReminderRowKey", Service(service), P("GrainId", "grain/1", DbType.String),
            P("ReminderName", "r", DbType.String))).Should().ContainSingle().Subject;
        row["Period"].Should().Be(5_000_000_000L, "a period over int32 milliseconds arrives as int8 and is kept");
        row["Version"].Should().Be(second);

        (await DeleteReminderAsync(service, first)).Should().Be(false, "a stale etag keeps the row");
        (await db.QueryAsync("ReadReminderRowsKey", Service(service), P("GrainId", "grain/1", DbType.String))).Should().ContainSingle();
        (await DeleteReminderAsync(service, second)).Should().Be(true);
        (await db.QueryAsync("ReadReminderRowsKey", Service(service), P("GrainId", "grain/1", DbType.String))).Should().BeEmpty();
    }

    [Fact]
    public async Task Storage_Writes_SucceedOnlyOnTheStoredVersion()
    {
        var grain = new StorageKey(NewId(), "state", 42, 0, 7, null);

        (await WriteAsync(grain, null, [1])).Should().Be(1, "a first write creates version 1");
        (await WriteAsync(grain, null, [2])).Should().BeNull("no version over an existing record is a conflict");
        (await WriteAsync(grain, 5, [2])).Should().BeNull("a stale version is a conflict");
        (await WriteAsync(grain, 1, [3])).Should().Be(2);

        var read = (await ReadAsync(grain)).Should().ContainSingle().Subject;
        read["PayloadBinary"].Should().BeEquivalentTo(new byte[] { 3 });
        read["Version"].Should().Be(2);

        (await db.QueryAsync("ClearStorageKey", grain.Parameters(version: 1))).Should().BeEmpty("a stale clear returns nothing");
        (await db.ScalarAsync("ClearStorageKey", grain.Parameters(version: 2))).Should().Be(3);
        read = (await ReadAsync(grain)).Should().ContainSingle().Subject;
        read["PayloadBinary"].Should().BeNull("a cleared record reads as absent");
        read["Version"].Should().Be(3, "but keeps its version, so a writer that missed the clear conflicts");
        (await WriteAsync(grain, 2, [4])).Should().BeNull();
        (await WriteAsync(grain, 3, [4])).Should().Be(4);

        (await db.ScalarAsync("DeleteStorageKey", grain.Parameters(version: 4))).Should().Be(5, "the provider expects the deleted version + 1");
        (await ReadAsync(grain)).Should().BeEmpty();
    }

    [Fact]
    public async Task Storage_RecordsSharingAHash_AreKeyedByStateNameAndFullGrainKey()
    {
        var service = NewId();
        var grains = new[]
        {
            new StorageKey(service, "state", 99, 0, 1, null),
            new StorageKey(service, "other-state", 99, 0, 1, null),
            new StorageKey(service, "state", 99, 0, 2, null),
            new StorageKey(service, "state", 99, 3, 1, null),
            new StorageKey(service, "state", 99, 0, 1, "extension"),
        };

        for (var i = 0; i < grains.Length; i++)
        {
            (await WriteAsync(grains[i], null, [(byte)i])).Should().Be(1, $"grain {i} is a record of its own");
        }

        for (var i = 0; i < grains.Length; i++)
        {
            (await ReadAsync(grains[i])).Should().ContainSingle().Which["PayloadBinary"].Should().BeEquivalentTo(new[] { (byte)i });
        }

        (await WriteAsync(grains[0], 1, [9])).Should().Be(2, "a key without extension is one record, not one per write");
    }

    private static string NewId() => Guid.NewGuid().ToString("N");

    private static (string, object?, DbType) Cluster(string id) => P("DeploymentId", id, DbType.String);

    private static (string, object?, DbType) Service(string id) => P("ServiceId", id, DbType.String);

    private async Task<bool> InsertSiloAsync(string cluster, int port, int version, DateTime? start = null, DateTime? alive = null) =>
        (bool)(await db.ScalarAsync("InsertMembershipKey",
            Cluster(cluster), P("Address", "127.0.0.1", DbType.String), P("Port", port, DbType.Int32),
            P("Generation", 7, DbType.Int32), P("SiloName", $"silo-{port}", DbType.String),
            P("HostName", "host", DbType.String), P("Status", 1, DbType.Int32), P("ProxyPort", 30000 + port, DbType.Int32),
            P("StartTime", start ?? DateTime.UtcNow, DbType.DateTime), P("IAmAliveTime", alive ?? DateTime.UtcNow, DbType.DateTime),
            P("Version", version, DbType.Int32)))!;

    private async Task<bool> UpdateSiloAsync(string cluster, int port, int status, int version, DateTime? alive = null) =>
        (bool)(await db.ScalarAsync("UpdateMembershipKey",
            Cluster(cluster), P("Address", "127.0.0.1", DbType.String), P("Port", port, DbType.Int32),
            P("Generation", 7, DbType.Int32), P("Status", status, DbType.Int32), P("SuspectTimes", null, DbType.String),
            P("IAmAliveTime", alive ?? DateTime.UtcNow, DbType.DateTime), P("Version", version, DbType.Int32)))!;

    private Task<List<Dictionary<string, object?>>> ReadAllAsync(string cluster) =>
        db.QueryAsync("MembershipReadAllKey", Cluster(cluster));

    private Task<List<Dictionary<string, object?>>> ReadRowAsync(string cluster, int port) =>
        db.QueryAsync("MembershipReadRowKey", Cluster(cluster), P("Address", "127.0.0.1", DbType.String),
            P("Port", port, DbType.Int32), P("Generation", 7, DbType.Int32));

    private async Task<int> UpsertReminderAsync(string service, string grainId, int hash, long period = 60_000) =>
        (int)(await db.ScalarAsync("UpsertReminderRowKey",
            Service(service), P("GrainId", grainId, DbType.String), P("ReminderName", "r", DbType.String),
            P("StartTime", DateTime.UtcNow, DbType.DateTime),
            // As the provider does: int4 when the milliseconds fit, int8 beyond.
            period <= int.MaxValue ? P("Period", (int)period, DbType.Int32) : P("Period", period, DbType.Int64),
            P("GrainHash", hash, DbType.Int32)))!;

    private Task<object?> DeleteReminderAsync(string service, int version) =>
        db.ScalarAsync("DeleteReminderRowKey", Service(service), P("GrainId", "grain/1", DbType.String),
            P("ReminderName", "r", DbType.String), P("Version", version, DbType.Int32));

    private Task<object?> WriteAsync(StorageKey grain, int? version, byte[] payload) =>
        db.ScalarAsync("WriteToStorageKey", [.. grain.Parameters(version), P("PayloadBinary", payload, DbType.Binary)]);

    private Task<List<Dictionary<string, object?>>> ReadAsync(StorageKey grain) =>
        db.QueryAsync("ReadFromStorageKey", grain.Parameters(version: null));

    /// <summary>A grain's storage identity as the storage provider binds it.</summary>
    private sealed record StorageKey(string ServiceId, string StateName, int Hash, long N0, long N1, string? Extension)
    {
        public (string, object?, DbType)[] Parameters(int? version) =>
        [
            P("GrainIdHash", Hash, DbType.Int32), P("GrainIdN0", N0, DbType.Int64), P("GrainIdN1", N1, DbType.Int64),
            P("GrainTypeHash", 12345, DbType.Int32), P("GrainTypeString", StateName, DbType.String),
            P("GrainIdExtensionString", Extension, DbType.String), P("ServiceId", ServiceId, DbType.String),
            P("GrainStateVersion", version, DbType.Int32),
        ];
    }
}
