using AwesomeAssertions;
using MeshHook.Grains.Runs;
using Npgsql;

namespace MeshHook.Tests.Unit.Runs;

public sealed class PostgresConnectionDefaultsTests
{
    [Fact]
    public void Apply_CapsThePool_SkipsTheResetOnReuse_AndPreparesRepeatedStatements()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply("Host=db;Username=app;Database=meshhook"));

        tuned.MaxPoolSize.Should().Be(PostgresConnectionDefaults.MaxPoolSize);
        tuned.Keys.Should().BeEquivalentTo(
            ["Host", "Username", "Database", "Maximum Pool Size", "No Reset On Close", "Max Auto Prepare", "Auto Prepare Min Usages"],
            "nothing else is set for the operator");
        tuned.NoResetOnClose.Should().BeTrue();
        tuned.MaxAutoPrepare.Should().Be(PostgresConnectionDefaults.MaxAutoPrepare);
        tuned.AutoPrepareMinUsages.Should().Be(5);
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

    [Theory]
    [InlineData("No Reset On Close=false;Max Auto Prepare=0", false, 0)]
    [InlineData("NoResetOnClose=false", false, PostgresConnectionDefaults.MaxAutoPrepare)]
    [InlineData("maxautoprepare=3", true, 3)]
    public void Apply_KeepsTheResetAndPreparationTheOperatorSet(string setting, bool noReset, int maxAutoPrepare)
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply($"Host=db;{setting}"));

        tuned.NoResetOnClose.Should().Be(noReset);
        tuned.MaxAutoPrepare.Should().Be(maxAutoPrepare);
    }
}
