using System.Text;
using AwesomeAssertions;
using MeshHook.Gateway.Security;
using MeshHook.Tests.Gateway.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// The replay window's edges, on a fixed clock: a timestamp exactly <c>maxAge</c> away either way is inside, one
/// second more is outside. The end-to-end tests cannot look at the edge because their clock and the gateway's differ.
/// </summary>
public sealed class SignatureWindowTests
{
    private const string Secret = "window-secret";
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"n": 1}""");
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    [Theory]
    [InlineData(0, true)]
    [InlineData(-300, true)]
    [InlineData(+300, true)]
    [InlineData(-301, false)]
    [InlineData(+301, false)]
    public void Timestamp_IsAcceptedUpToMaxAgeAwayEitherWay(int offsetSeconds, bool accepted)
    {
        var at = Now.ToUnixTimeSeconds() + offsetSeconds;

        var valid = SignatureChecker.IsValidTimestamped(Secret, Body, Headers(at), TimeSpan.FromMinutes(5), Now, out var problem);

        valid.Should().Be(accepted, problem);
        if (!accepted)
        {
            problem.Should().Contain("more than 300 s away");
        }
    }

    [Fact]
    public void Timestamp_BeyondWhatADateCanHold_IsRefused_NotThrown()
    {
        var valid = SignatureChecker.IsValidTimestamped(Secret, Body, Headers(long.MaxValue), TimeSpan.FromMinutes(5), Now, out var problem);

        valid.Should().BeFalse();
        problem.Should().Contain("away from the gateway's clock");
    }

    private static HeaderDictionary Headers(long at) => new()
    {
        [SignatureChecker.TimestampHeader] = at.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [SignatureChecker.HubSignatureHeader] = "sha256=" + Api.Sign(Secret, $"{at}.{Encoding.UTF8.GetString(Body)}"),
    };
}
