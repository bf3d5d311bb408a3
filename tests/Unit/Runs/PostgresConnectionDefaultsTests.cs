using AwesomeAssertions;
using MeshHook.Grains.Runs;
using Npgsql;

namespace MeshHook.Tests.Unit.Runs;

public sealed class PostgresConnectionDefaultsTests
{
    [Fact]
    public void Apply_FillsInWhatTheOperatorLeftUnset()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply("Host=db;Username=app;Database=meshhook"));

        tuned.MaxPoolSize.Should().Be(PostgresConnectionDefaults.MaxPoolSize);
        tuned.NoResetOnClose.Should().BeTrue();
        tuned.MaxAutoPrepare.Should().Be(64);
        tuned.Host.Should().Be("db");
        tuned.Database.Should().Be("meshhook");
    }

    [Theory]
    [InlineData("Maximum Pool Size=7;No Reset On Close=false;Max Auto Prepare=0")]
    [InlineData("MaxPoolSize=7;NoResetOnClose=false;MaxAutoPrepare=0")]
    [InlineData("maximum pool size=7;no reset on close=false;max auto prepare=0")]
    public void Apply_KeepsWhatTheOperatorSet_UnderAnySpelling(string settings)
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgresConnectionDefaults.Apply($"Host=db;{settings}"));

        tuned.MaxPoolSize.Should().Be(7);
        tuned.NoResetOnClose.Should().BeFalse();
        tuned.MaxAutoPrepare.Should().Be(0);
    }
}
