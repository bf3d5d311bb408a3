using AwesomeAssertions;
using MeshHook.Grains.Runs;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>Checks a run's workflow_events as an operator would read them.</summary>
internal static class History
{
    /// <summary>Seqs are 1..N without gap or duplicate, run_created first, and no step succeeded twice.</summary>
    public static void ShouldBeConsistent(IReadOnlyList<RunEvent> events)
    {
        events.Should().NotBeEmpty();
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count), "seq has no gaps or duplicates");
        events[0].Type.Should().Be(RunEventTypes.RunCreated);
        var succeeded = events.Where(e => e.Type == RunEventTypes.StepSucceeded).Select(e => NodeOf(e)).ToList();
        succeeded.Should().OnlyHaveUniqueItems("a checkpointed step never runs again");
    }

    public static string NodeOf(RunEvent e) => (string)JObject.Parse(e.PayloadJson)["nodeId"]!;

    public static IEnumerable<string> Types(this IReadOnlyList<RunEvent> events) => events.Select(e => e.Type);
}
