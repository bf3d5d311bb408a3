using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Steps;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>The payload fields the app and the soak's audit read from a run's history.</summary>
public sealed class RunEventsTests
{
    [Fact]
    public void StepStarted_NamesTheNodeItsTypeAndTheExecution()
    {
        var e = RunEvents.StepStarted(new DelayNode("wait", TimeSpan.FromSeconds(1)), 2);

        e.Type.Should().Be("step_started");
        JToken.DeepEquals(JObject.Parse(e.PayloadJson), JObject.Parse("""{"nodeId":"wait","type":"delay","execution":2}""")).Should().BeTrue(e.PayloadJson);
    }

    [Fact]
    public void HttpAttempted_CarriesOnlyTheFieldsTheAttemptHas()
    {
        var answered = RunEvents.HttpAttempted("call", new HttpAttempt(1, 503, null, TimeSpan.FromMilliseconds(12.7)));
        var timedOut = RunEvents.HttpAttempted("call", new HttpAttempt(2, null, "timed out", TimeSpan.FromSeconds(1)));

        JToken.DeepEquals(JObject.Parse(answered.PayloadJson), JObject.Parse("""{"nodeId":"call","attempt":1,"elapsedMs":12,"status":503}""")).Should().BeTrue(answered.PayloadJson);
        JToken.DeepEquals(JObject.Parse(timedOut.PayloadJson), JObject.Parse("""{"nodeId":"call","attempt":2,"elapsedMs":1000,"error":"timed out"}""")).Should().BeTrue(timedOut.PayloadJson);
    }

    [Fact]
    public void StepSucceeded_KeepsTheOutputAsJson_AndTheBranchWhenThereIsOne()
    {
        var e = RunEvents.StepSucceeded("check", JToken.Parse("""{"n":[1,2]}"""), "true");

        e.Type.Should().Be("step_succeeded");
        JToken.DeepEquals(JObject.Parse(e.PayloadJson), JObject.Parse("""{"nodeId":"check","output":{"n":[1,2]},"branch":"true"}""")).Should().BeTrue(e.PayloadJson);
        JObject.Parse(RunEvents.StepSucceeded("x", JValue.CreateNull(), null).PayloadJson).ContainsKey("branch").Should().BeFalse();
    }

    [Fact]
    public void TerminalEvents_SayHowTheRunEnded()
    {
        JToken.DeepEquals(JObject.Parse(RunEvents.RunCompleted(RunStatus.Failed, "step 'a' failed: boom").PayloadJson), JObject.Parse("""{"status":"failed","error":"step 'a' failed: boom"}""")).Should().BeTrue();
        JToken.DeepEquals(JObject.Parse(RunEvents.RunCompleted(RunStatus.Succeeded, null).PayloadJson), JObject.Parse("""{"status":"succeeded"}""")).Should().BeTrue();
        RunEvents.RunCanceled("call").PayloadJson.Should().Be("""{"nodeId":"call"}""");
        RunEvents.RunCanceled(null).PayloadJson.Should().Be("{}");
    }

    [Fact]
    public void DrainEvents_NameTheSiloAndWhatHappened()
    {
        JToken.DeepEquals(JObject.Parse(RunEvents.RunHandedOff("silo-a", toSurvivor: true, suspendedStep: "wait").PayloadJson), JObject.Parse("""{"silo":"silo-a","to":"survivor","suspendedStep":"wait"}""")).Should().BeTrue();
        JObject.Parse(RunEvents.RunHandedOff("silo-a", toSurvivor: false, suspendedStep: null).PayloadJson)["to"]!.Value<string>().Should().Be("storage");
        JToken.DeepEquals(JObject.Parse(RunEvents.RunInterrupted("call", "drain limit reached", "silo-a").PayloadJson), JObject.Parse("""{"nodeId":"call","reason":"drain limit reached","silo":"silo-a"}""")).Should().BeTrue();
        JToken.DeepEquals(JObject.Parse(RunEvents.RunResumed("silo-b", "S127.0.0.1:11112:1", TimeSpan.FromMilliseconds(1500)).PayloadJson), JObject.Parse("""{"silo":"silo-b","address":"S127.0.0.1:11112:1","suspendedMs":1500}""")).Should().BeTrue();
        JObject.Parse(RunEvents.RunResumed("silo-b", "a", null).PayloadJson).ContainsKey("suspendedMs").Should().BeFalse();
    }
}
