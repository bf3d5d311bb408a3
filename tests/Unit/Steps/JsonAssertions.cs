using AwesomeAssertions;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>JSON equality for Newtonsoft tokens (assertion libraries see a JToken as a collection).</summary>
internal static class JsonAssertions
{
    public static void ShouldBeJson(this JToken? actual, string expectedJson) => actual.ShouldBeJson(Parse(expectedJson));

    public static void ShouldBeJson(this JToken? actual, JToken? expected) =>
        JToken.DeepEquals(actual, expected).Should().BeTrue(
            "expected {0} but found {1}",
            expected?.ToString(Formatting.None) ?? "nothing",
            actual?.ToString(Formatting.None) ?? "nothing");

    /// <summary>Parses like the executors do: date-like strings stay strings.</summary>
    public static JToken Parse(string json)
    {
        using var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None };
        return JToken.ReadFrom(reader);
    }
}
