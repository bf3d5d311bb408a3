using AwesomeAssertions;
using MeshHook.Grains.Runs;
using Npgsql;

namespace MeshHook.Tests.Unit.Runs;

public sealed class PostgresConnectionDefaultsTests
{
    [Fact]
    public void Apply_CapsThePool_AndLeavesTheRestAsNpgsqlHasIt()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply("Host=db;Username=app;Database=meshhook"));

        tuned.MaxPoolSize.Should().Be(PostgresConnectionDefaults.MaxPoolSize);
        tuned.Keys.Should().BeEquivalentTo(["Host", "Username", "Database", "Maximum Pool Size"], "nothing else is set for the operator");
        tuned.NoResetOnClose.Should().BeFalse();
        tuned.MaxAutoPrepare.Should().Be(0);
        tuned.Host.Should().Be("db");
        tuned.Database.Should().Be("meshhook");
    }

    [Theory]
    [InlineData("Maximum Pool Size=7")]
    [InlineData("MaxPoolSize=7")]
    [InlineData("maximum pool size=7")]
    public void Apply_KeepsThePoolSizeTheOperatorSet_UnderAnySpelling(string setting)
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply($"Host=db;{setting}"));

        tuned.MaxPoolSize.Should().Be(7);
    }
}
