using System.Globalization;
using System.Text.Json;
using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Definitions;
using Xunit;

namespace MeshHook.Tests.Unit.Definitions;

public sealed class DefinitionValidatorTests
{
    private const string Hook = """{"id":"hook","type":"webhook"}""";

    public static TheoryData<string, string, string[], string[]> GoodDefinitions => new()
    {
        {
            "trigger alone",
            Def(Hook, ""),
            ["webhook hook"],
            []
        },
        {
            "linear transforms, with the editor's own properties beside ours",
            """
            {
              "viewport": {"x": 0, "y": 0, "zoom": 1},
              "nodes": [
                {"id":"hook","type":"webhook","position":{"x":0,"y":0},"data":{"label":"Incoming"}},
                {"id":"pick","type":"transform","data":{"expression":"trigger.body.order","label":"Pick"}},
                {"id":"shape","type":"transform","data":{"expression":"{id: steps.pick.id}"}}
              ],
              "edges": [
                {"id":"e1","source":"hook","target":"pick","label":""},
                {"id":"e2","source":"pick","target":"shape","label":null}
              ]
            }
            """,
            ["webhook hook", "transform pick trigger.body.order", "transform shape {id: steps.pick.id}"],
            ["hook -> pick", "pick -> shape"]
        },
        {
            "http_call with only the required fields gets the defaults",
            Def(Hook + "," + """{"id":"call","type":"http_call","data":{"method":"post","url":"https://example.com/orders"}}""", Edge("hook", "call")),
            ["webhook hook", "http_call call POST https://example.com/orders headers=[] body=- timeout=10000ms retry=3x 200ms..10000ms"],
            ["hook -> call"]
        },
        {
            "http_call with every field",
            Def(Hook + "," + """
                {"id":"call","type":"http_call","data":{
                  "method":"PATCH","url":"http://localhost:8080/a?b=c",
                  "headers":{"Accept":"'application/json'","X-Order":"trigger.body.id"},
                  "body":"trigger.body","timeoutMs":300000,
                  "retry":{"maxAttempts":10,"baseDelayMs":0,"maxDelayMs":300000}}}
                """, Edge("hook", "call")),
            ["webhook hook", "http_call call PATCH http://localhost:8080/a?b=c headers=[Accept='application/json', X-Order=trigger.body.id] body=trigger.body timeout=300000ms retry=10x 0ms..300000ms"],
            ["hook -> call"]
        },
        {
            "http_call optional fields given as null take the defaults",
            Def(Hook + "," + """{"id":"call","type":"http_call","data":{"method":"DELETE","url":"http://x.test/","headers":null,"body":null,"timeoutMs":null,"retry":null}}""", Edge("hook", "call")),
            ["webhook hook", "http_call call DELETE http://x.test/ headers=[] body=- timeout=10000ms retry=3x 200ms..10000ms"],
            ["hook -> call"]
        },
        {
            "retry base delay above the default cap raises the cap",
            Def(Hook + "," + """{"id":"call","type":"http_call","data":{"method":"GET","url":"http://x.test/","timeoutMs":1,"retry":{"baseDelayMs":60000}}}""", Edge("hook", "call")),
            ["webhook hook", "http_call call GET http://x.test/ headers=[] body=- timeout=1ms retry=3x 60000ms..60000ms"],
            ["hook -> call"]
        },
        {
            "branch with both labels, delay and terminates",
            Def(
                Hook + "," +
                """{"id":"check","type":"branch","data":{"condition":"trigger.body.paid"}},""" +
                """{"id":"wait","type":"delay","data":{"ms":2592000000}},""" +
                """{"id":"done","type":"terminate"},""" +
                """{"id":"fail","type":"terminate","data":{"status":"failed"}}""",
                Edge("hook", "check") + "," + Edge("check", "wait", "true") + "," + Edge("check", "fail", "false") + "," + Edge("wait", "done")),
            ["webhook hook", "branch check trigger.body.paid", "delay wait 2592000000ms", "terminate done Succeeded", "terminate fail Failed"],
            ["hook -> check", "check -true-> wait", "check -false-> fail", "wait -> done"]
        },
        {
            "branch with only a true edge, delay of zero, explicit succeeded",
            Def(
                Hook + "," +
                """{"id":"check","type":"branch","data":{"condition":"`true`"}},""" +
                """{"id":"wait","type":"delay","data":{"ms":0}},""" +
                """{"id":"done","type":"terminate","data":{"status":"succeeded"}}""",
                Edge("hook", "check") + "," + Edge("check", "wait", "true") + "," + Edge("wait", "done")),
            ["webhook hook", "branch check `true`", "delay wait 0ms", "terminate done Succeeded"],
            ["hook -> check", "check -true-> wait", "wait -> done"]
        },
        {
            "diamond: two paths join",
            Def(
                Hook + "," + Transform("a") + "," + Transform("b") + "," + Transform("join"),
                Edge("hook", "a") + "," + Edge("hook", "b") + "," + Edge("a", "join") + "," + Edge("b", "join")),
            ["webhook hook", "transform a @", "transform b @", "transform join @"],
            ["hook -> a", "hook -> b", "a -> join", "b -> join"]
        },
        {
            "branch edges true and false into the same node",
            Def(
                Hook + "," + """{"id":"check","type":"branch","data":{"condition":"@"}},""" + Transform("next"),
                Edge("hook", "check") + "," + Edge("check", "next", "true") + "," + Edge("check", "next", "false")),
            ["webhook hook", "branch check @", "transform next @"],
            ["hook -> check", "check -true-> next", "check -false-> next"]
        },
        {
            "webhook data of any kind is ignored",
            Def("""{"id":"hook","type":"webhook","data":"anything"}""", ""),
            ["webhook hook"],
            []
        },
    };

    public static TheoryData<string, string, string[]> BadDefinitions => new()
    {
        // The document.
        { "array instead of object", "[]", ["definition must be a JSON object"] },
        { "number instead of object", "42", ["definition must be a JSON object"] },
        { "null", "null", ["definition must be a JSON object"] },
        { "nodes and edges missing", "{}", ["nodes is required", "edges is required"] },
        { "nodes and edges null", """{"nodes":null,"edges":null}""", ["nodes is required", "edges is required"] },
        { "nodes and edges of the wrong type", """{"nodes":{},"edges":"x"}""", ["nodes must be an array", "edges must be an array"] },
        { "no nodes at all", Def("", ""), ["workflow has no webhook trigger"] },

        // Node ids and types.
        { "node not an object", Def(Hook + ",5", ""), ["nodes[1] must be an object"] },
        { "node without id", Def(Hook + "," + """{"type":"transform","data":{"expression":"@"}}""", ""), ["nodes[1].id is required"] },
        { "node with null id", Def(Hook + "," + """{"id":null,"type":"transform"}""", ""), ["nodes[1].id is required"] },
        { "node with numeric id", Def(Hook + "," + """{"id":7,"type":"transform"}""", ""), ["nodes[1].id must be a string"] },
        { "node with empty id", Def(Hook + "," + """{"id":"","type":"transform"}""", ""), ["nodes[1].id must not be empty"] },
        {
            "node id with a space",
            Def(Hook + "," + Transform("a b"), Edge("hook", "a b")),
            ["node 'a b': id must be 1 to 128 printable ASCII characters without spaces (it is part of the Idempotency-Key header)"]
        },
        {
            "node id too long",
            Def(Hook + "," + Transform(new string('n', 129)), Edge("hook", new string('n', 129))),
            [$"node '{new string('n', 129)}': id must be 1 to 128 printable ASCII characters without spaces (it is part of the Idempotency-Key header)"]
        },
        {
            "duplicate node id",
            Def(Hook + "," + Transform("a") + "," + """{"id":"a","type":"nonsense"}""", Edge("hook", "a")),
            ["node 'a': duplicate node id 'a'"]
        },
        {
            "unknown node type",
            Def(Hook + "," + """{"id":"x","type":"foo"}""", Edge("hook", "x")),
            ["node 'x': unknown node type 'foo'"]
        },
        {
            "node types are case-sensitive",
            Def(Hook + "," + """{"id":"x","type":"Transform","data":{"expression":"@"}}""", Edge("hook", "x")),
            ["node 'x': unknown node type 'Transform'"]
        },
        { "node without type", Def(Hook + "," + """{"id":"x"}""", Edge("hook", "x")), ["node 'x': type is required"] },
        { "node with numeric type", Def(Hook + "," + """{"id":"x","type":3}""", Edge("hook", "x")), ["node 'x': type must be a string"] },
        { "data not an object", Def(Hook + "," + """{"id":"x","type":"transform","data":[]}""", Edge("hook", "x")), ["node 'x': data must be an object"] },

        // Triggers.
        {
            "two webhooks",
            Def(Hook + "," + """{"id":"hook2","type":"webhook"}""", ""),
            ["workflow has 2 webhook triggers; exactly one is required"]
        },
        {
            "three webhooks",
            Def(Hook + "," + """{"id":"h2","type":"webhook"},{"id":"h3","type":"webhook"}""", ""),
            ["workflow has 3 webhook triggers; exactly one is required"]
        },
        {
            "no webhook: reachability is not judged",
            Def(Transform("a") + "," + Transform("b"), Edge("a", "b")),
            ["workflow has no webhook trigger"]
        },
        {
            "edge into the trigger",
            Def(Hook + "," + Transform("a"), Edge("hook", "a") + "," + Edge("a", "hook")),
            ["node 'hook': the trigger cannot have incoming edges (edge a -> hook)"]
        },

        // Edges.
        { "edge not an object", Def(Hook, "true"), ["edges[0] must be an object"] },
        {
            "edge without ends",
            Def(Hook, """{"label":"x"}"""),
            ["edges[0].source is required", "edges[0].target is required"]
        },
        {
            "edge ends and label of the wrong type",
            Def(Hook + "," + Transform("a"), Edge("hook", "a") + "," + """{"source":1,"target":"a","label":true}"""),
            ["edges[1].source must be a string", "edges[1].label must be a string"]
        },
        {
            "edge to an unknown node",
            Def(Hook, Edge("hook", "ghost")),
            ["node 'hook': edges[0]: unknown target node 'ghost'"]
        },
        {
            "edge from an unknown node",
            Def(Hook + "," + Transform("a"), Edge("hook", "a") + "," + Edge("ghost", "a")),
            ["edges[1]: unknown source node 'ghost'"]
        },
        {
            "edge between two unknown nodes",
            Def(Hook, Edge("x", "y")),
            ["edges[0]: unknown source node 'x'", "edges[0]: unknown target node 'y'"]
        },
        {
            "duplicate edge",
            Def(Hook + "," + Transform("a"), Edge("hook", "a") + "," + Edge("hook", "a")),
            ["node 'hook': duplicate edge hook -> a"]
        },
        {
            "label on an edge that does not leave a branch",
            Def(Hook + "," + Transform("a"), Edge("hook", "a", "true")),
            ["node 'hook': edge hook -> a is labelled 'true', but only a branch's edges carry labels"]
        },

        // Cycles and reachability.
        {
            "self-loop",
            Def(Hook + "," + Transform("a"), Edge("hook", "a") + "," + Edge("a", "a")),
            ["node 'a': cycle: a -> a"]
        },
        {
            "cycle of three",
            Def(Hook + "," + Transform("a") + "," + Transform("b") + "," + Transform("c"),
                Edge("hook", "a") + "," + Edge("a", "b") + "," + Edge("b", "c") + "," + Edge("c", "a")),
            ["node 'a': cycle: a -> b -> c -> a"]
        },
        {
            "cycle named from its first node in definition order, by its shortest way round",
            Def(Hook + "," + Transform("a") + "," + Transform("b") + "," + Transform("c"),
                Edge("hook", "c") + "," + Edge("c", "b") + "," + Edge("b", "c") + "," + Edge("b", "a") + "," + Edge("a", "c")),
            ["node 'a': cycle: a -> c -> b -> a"]
        },
        {
            "two separate cycles, each reported",
            Def(Hook + "," + Transform("a") + "," + Transform("b") + "," + Transform("c") + "," + Transform("d"),
                Edge("hook", "a") + "," + Edge("hook", "c") + "," + Edge("d", "c") + "," + Edge("c", "d") + "," + Edge("a", "b") + "," + Edge("b", "a")),
            ["node 'a': cycle: a -> b -> a", "node 'c': cycle: c -> d -> c"]
        },
        {
            "unreachable nodes, also those only reached from unreachable ones",
            Def(Hook + "," + Transform("a") + "," + Transform("island") + "," + Transform("after-island"),
                Edge("hook", "a") + "," + Edge("island", "after-island")),
            ["node 'island': node is not reachable from the trigger", "node 'after-island': node is not reachable from the trigger"]
        },
        {
            "an unreachable cycle is both",
            Def(Hook + "," + Transform("a") + "," + Transform("b"), Edge("a", "b") + "," + Edge("b", "a")),
            ["node 'a': cycle: a -> b -> a", "node 'a': node is not reachable from the trigger", "node 'b': node is not reachable from the trigger"]
        },

        // Branch and terminate edges.
        {
            "branch without edges",
            Def(Hook + "," + Branch("check"), Edge("hook", "check")),
            ["node 'check': branch has no outgoing edges"]
        },
        {
            "branch edges without label or with another label",
            Def(Hook + "," + Branch("check") + "," + Transform("a") + "," + Transform("b"),
                Edge("hook", "check") + "," + Edge("check", "a") + "," + Edge("check", "b", "yes")),
            [
                "node 'check': edge check -> a needs label 'true' or 'false'",
                "node 'check': edge check -> b has label 'yes'; a branch's edges are labelled 'true' or 'false'",
            ]
        },
        {
            "branch labels are case-sensitive",
            Def(Hook + "," + Branch("check") + "," + Transform("a"), Edge("hook", "check") + "," + Edge("check", "a", "True")),
            ["node 'check': edge check -> a has label 'True'; a branch's edges are labelled 'true' or 'false'"]
        },
        {
            "branch with two edges of the same label",
            Def(Hook + "," + Branch("check") + "," + Transform("a") + "," + Transform("b") + "," + Transform("c") + "," + Transform("d"),
                Edge("hook", "check") + "," + Edge("check", "a", "true") + "," + Edge("check", "b", "true") + "," +
                Edge("check", "c", "false") + "," + Edge("check", "d", "false")),
            ["node 'check': branch has more than one edge labelled 'true'", "node 'check': branch has more than one edge labelled 'false'"]
        },
        {
            "terminate with an outgoing edge",
            Def(Hook + "," + """{"id":"end","type":"terminate"}""" + "," + Transform("after"),
                Edge("hook", "end") + "," + Edge("end", "after")),
            ["node 'end': terminate node cannot have outgoing edges"]
        },

        // transform and branch data.
        { "transform without expression", Def(Hook + "," + """{"id":"t","type":"transform"}""", Edge("hook", "t")), ["node 't': data.expression is required"] },
        { "transform with null expression", Def(Hook + "," + """{"id":"t","type":"transform","data":{"expression":null}}""", Edge("hook", "t")), ["node 't': data.expression is required"] },
        { "transform with numeric expression", Def(Hook + "," + """{"id":"t","type":"transform","data":{"expression":1}}""", Edge("hook", "t")), ["node 't': data.expression must be a string"] },
        { "transform with blank expression", Def(Hook + "," + """{"id":"t","type":"transform","data":{"expression":"  "}}""", Edge("hook", "t")), ["node 't': data.expression must not be empty"] },
        {
            "transform with bad JMESPath",
            Def(Hook + "," + """{"id":"t","type":"transform","data":{"expression":"foo["}}""", Edge("hook", "t")),
            ["node 't': data.expression is not valid JMESPath: Error(1, 3): syntax, near ''."]
        },
        { "branch without condition", Def(Hook + "," + """{"id":"b","type":"branch","data":{}}""", Edge("hook", "b")), ["node 'b': data.condition is required", "node 'b': branch has no outgoing edges"] },
        {
            "branch with bad JMESPath",
            Def(Hook + "," + """{"id":"b","type":"branch","data":{"condition":"a b"}}""" + "," + Transform("t"), Edge("hook", "b") + "," + Edge("b", "t", "true")),
            ["node 'b': data.condition is not valid JMESPath: Error(1, 2): syntax, near 'b'."]
        },

        // delay and terminate data.
        { "delay without ms", Def(Hook + "," + """{"id":"d","type":"delay"}""", Edge("hook", "d")), ["node 'd': data.ms is required"] },
        { "delay negative", Delay("-1"), ["node 'd': data.ms must be an integer from 0 to 2592000000"] },
        { "delay over 30 days", Delay("2592000001"), ["node 'd': data.ms must be an integer from 0 to 2592000000"] },
        { "delay fractional", Delay("1.5"), ["node 'd': data.ms must be an integer from 0 to 2592000000"] },
        { "delay as a string", Delay("\"100\""), ["node 'd': data.ms must be an integer from 0 to 2592000000"] },
        { "terminate with an unknown status", Terminate("\"ok\""), ["node 'end': data.status must be 'succeeded' or 'failed'"] },
        { "terminate status is case-sensitive", Terminate("\"Failed\""), ["node 'end': data.status must be 'succeeded' or 'failed'"] },
        { "terminate with a numeric status", Terminate("1"), ["node 'end': data.status must be a string"] },

        // http_call data.
        {
            "http_call with empty data",
            Def(Hook + "," + """{"id":"c","type":"http_call","data":{}}""", Edge("hook", "c")),
            ["node 'c': data.method is required", "node 'c': data.url is required"]
        },
        { "http_call with an unknown method", Call("""{"method":"FETCH","url":"http://x.test/"}"""), ["node 'c': data.method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"] },
        { "http_call with a numeric method", Call("""{"method":1,"url":"http://x.test/"}"""), ["node 'c': data.method must be a string"] },
        { "http_call with a relative URL", Call("""{"method":"GET","url":"orders/1"}"""), ["node 'c': data.url must be an absolute http or https URL"] },
        { "http_call with an absolute path", Call("""{"method":"GET","url":"/etc/passwd"}"""), ["node 'c': data.url must be an absolute http or https URL"] },
        { "http_call with an ftp URL", Call("""{"method":"GET","url":"ftp://x.test/a"}"""), ["node 'c': data.url must be an absolute http or https URL"] },
        { "http_call with a URL without host", Call("""{"method":"GET","url":"http:orders"}"""), ["node 'c': data.url must be an absolute http or https URL"] },
        { "http_call with headers not an object", Call("""{"method":"GET","url":"http://x.test/","headers":["a"]}"""), ["node 'c': data.headers must be an object"] },
        {
            "http_call with bad headers",
            Call("""
                {"method":"GET","url":"http://x.test/","headers":{
                  "Bad Name":"'x'","idempotency-key":"'mine'","Content-Length":"'3'","Host":"'h'",
                  "Accept":"'a'","accept":"'b'","X-Num":1,"X-Expr":"foo[","X-Empty":""}}
                """),
            [
                "node 'c': data.headers: 'Bad Name' is not a valid header name",
                "node 'c': data.headers: idempotency-key is set by the engine and cannot be set here",
                "node 'c': data.headers: Content-Length is set by the HTTP client and cannot be set here",
                "node 'c': data.headers: Host is set by the HTTP client and cannot be set here",
                "node 'c': data.headers: duplicate header 'accept'",
                "node 'c': data.headers.X-Num must be a string (JMESPath) or {\"secret\": \"NAME\", \"prefix\"?: \"...\"}",
                "node 'c': data.headers.X-Expr is not valid JMESPath: Error(1, 3): syntax, near ''.",
                "node 'c': data.headers.X-Empty must not be empty",
            ]
        },
        { "http_call with an empty header name", Call("""{"method":"GET","url":"http://x.test/","headers":{"":"'x'"}}"""), ["node 'c': data.headers: '' is not a valid header name"] },
        { "http_call with a bad body", Call("""{"method":"POST","url":"http://x.test/","body":"{a:"}"""), ["node 'c': data.body is not valid JMESPath: Error(1, 2): syntax, near ''."] },
        { "http_call with a non-string body", Call("""{"method":"POST","url":"http://x.test/","body":{"a":1}}"""), ["node 'c': data.body must be a string"] },
        { "http_call with zero timeout", Call("""{"method":"GET","url":"http://x.test/","timeoutMs":0}"""), ["node 'c': data.timeoutMs must be an integer from 1 to 300000"] },
        { "http_call with too long a timeout", Call("""{"method":"GET","url":"http://x.test/","timeoutMs":300001}"""), ["node 'c': data.timeoutMs must be an integer from 1 to 300000"] },
        { "http_call with retry not an object", Call("""{"method":"GET","url":"http://x.test/","retry":3}"""), ["node 'c': data.retry must be an object"] },
        {
            "http_call with retry out of range",
            Call("""{"method":"GET","url":"http://x.test/","retry":{"maxAttempts":0,"baseDelayMs":60001,"maxDelayMs":300001}}"""),
            [
                "node 'c': data.retry.maxAttempts must be an integer from 1 to 10",
                "node 'c': data.retry.baseDelayMs must be an integer from 0 to 60000",
                "node 'c': data.retry.maxDelayMs must be an integer from 0 to 300000",
            ]
        },
        {
            "http_call with too many attempts and a negative base delay",
            Call("""{"method":"GET","url":"http://x.test/","retry":{"maxAttempts":11,"baseDelayMs":-1}}"""),
            ["node 'c': data.retry.maxAttempts must be an integer from 1 to 10", "node 'c': data.retry.baseDelayMs must be an integer from 0 to 60000"]
        },
        {
            "http_call with max delay below base delay",
            Call("""{"method":"GET","url":"http://x.test/","retry":{"baseDelayMs":5000,"maxDelayMs":1000}}"""),
            ["node 'c': data.retry.maxDelayMs must not be less than data.retry.baseDelayMs"]
        },
    };

    [Theory]
    [MemberData(nameof(GoodDefinitions))]
    public void Validate_GoodDefinition_ReturnsTypedWorkflow(string scenario, string json, string[] expectedNodes, string[] expectedEdges)
    {
        var result = DefinitionValidator.Validate(json);

        result.Problems.Should().BeEmpty(scenario);
        result.IsValid.Should().BeTrue();
        result.Workflow!.Nodes.Select(Describe).Should().Equal(expectedNodes);
        result.Workflow.Edges.Select(Describe).Should().Equal(expectedEdges);
        result.Workflow.Trigger.Id.Should().Be("hook");
    }

    [Theory]
    [MemberData(nameof(BadDefinitions))]
    public void Validate_BadDefinition_ReportsExactlyItsProblems(string scenario, string json, string[] expectedProblems)
    {
        var result = DefinitionValidator.Validate(json);

        result.Workflow.Should().BeNull(scenario);
        result.IsValid.Should().BeFalse();
        result.Problems.Select(p => p.ToString()).Should().Equal(expectedProblems);
    }

    [Fact]
    public void Validate_ManyProblems_ReportsThemAllAtOnceInDefinitionOrder()
    {
        var json = Def(
            """
            {"id":"t","type":"transform","data":{"expression":"foo["}},
            {"type":"delay"},
            {"id":"c","type":"http_call","data":{"method":"GET","url":"ftp://x","headers":{"Idempotency-Key":"'k'"}}},
            {"id":"t","type":"terminate"},
            {"id":"x","type":"foo"},
            {"id":"b","type":"branch","data":{"condition":"ok"}},
            {"id":"end","type":"terminate","data":{"status":"failed"}}
            """,
            Edge("t", "c") + "," + Edge("c", "t") + "," + Edge("b", "x", "maybe") + "," + Edge("end", "ghost") + "," +
            Edge("end", "b") + "," + Edge("t", "c", "true"));

        var result = DefinitionValidator.Validate(json);

        result.Workflow.Should().BeNull();
        result.Problems.Should().Equal(
            new DefinitionProblem("t", "data.expression is not valid JMESPath: Error(1, 3): syntax, near ''."),
            new DefinitionProblem(null, "nodes[1].id is required"),
            new DefinitionProblem("c", "data.url must be an absolute http or https URL"),
            new DefinitionProblem("c", "data.headers: Idempotency-Key is set by the engine and cannot be set here"),
            new DefinitionProblem("t", "duplicate node id 't'"),
            new DefinitionProblem("x", "unknown node type 'foo'"),
            new DefinitionProblem(null, "workflow has no webhook trigger"),
            new DefinitionProblem("b", "edge b -> x has label 'maybe'; a branch's edges are labelled 'true' or 'false'"),
            new DefinitionProblem("end", "edges[3]: unknown target node 'ghost'"),
            new DefinitionProblem("t", "edge t -> c is labelled 'true', but only a branch's edges carry labels"),
            new DefinitionProblem("end", "terminate node cannot have outgoing edges"),
            new DefinitionProblem("t", "cycle: t -> c -> t"));
    }

    [Theory]
    [InlineData("", "definition is not valid JSON (line 1, position 1)")]
    [InlineData("{", "definition is not valid JSON (line 1, position 2)")]
    [InlineData("{\"nodes\": [],\n \"edges\": [}", "definition is not valid JSON (line 2, position 12)")]
    [InlineData("nul", "definition is not valid JSON (line 1, position 4)")]
    [InlineData("{\"nodes\":[]}{}", "definition is not valid JSON (line 1, position 13)")]
    public void Validate_MalformedJson_ReportsOneProblemWithItsPosition(string json, string expected)
    {
        var result = DefinitionValidator.Validate(json);

        result.Workflow.Should().BeNull();
        result.Problems.Should().Equal(new DefinitionProblem(null, expected));
    }

    [Fact]
    public void Validate_NullText_Throws()
    {
        var validate = () => DefinitionValidator.Validate((string)null!);

        validate.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void Validate_ParsedElement_GivesTheSameAnswerAsText()
    {
        var json = Def(Hook + "," + Transform("a"), Edge("hook", "a"));
        using var document = JsonDocument.Parse(json);

        var result = DefinitionValidator.Validate(document.RootElement);

        result.Workflow!.Nodes.Select(Describe).Should().Equal("webhook hook", "transform a @");
    }

    [Fact]
    public void Validate_DefaultElement_IsNotAnObject()
    {
        var result = DefinitionValidator.Validate(default(JsonElement));

        result.Problems.Should().Equal(new DefinitionProblem(null, "definition must be a JSON object"));
    }

    [Fact]
    public void Validate_ValidWorkflow_AnswersAdjacencyQueries()
    {
        var json = Def(
            Hook + "," + Branch("check") + "," + Transform("yes") + "," + Transform("no"),
            Edge("hook", "check") + "," + Edge("check", "yes", "true") + "," + Edge("check", "no", "false"));

        var workflow = DefinitionValidator.Validate(json).Workflow!;

        workflow["check"].Should().BeOfType<BranchNode>();
        workflow.Outgoing("check").Select(e => (e.Target, e.Label)).Should().Equal(("yes", "true"), ("no", "false"));
        workflow.Incoming("yes").Select(e => e.Source).Should().Equal("check");
        workflow.Outgoing("hook").Single().Label.Should().BeNull();
    }

    [Fact]
    public void Validate_NodeLimitExceeded_ReportsOnlyTheLimit()
    {
        // Nodes are unconnected: a validator that looked past the limit would report 500 unreachable nodes.
        var nodes = string.Join(",", Enumerable.Range(0, DefinitionValidator.MaxNodes).Select(i => Transform($"n{i}")));
        var json = Def(Hook + "," + nodes, "");

        var result = DefinitionValidator.Validate(json);

        result.Problems.Should().Equal(new DefinitionProblem(null, "workflow has 501 nodes; at most 500 are allowed"));
    }

    [Fact]
    public void Validate_EdgeLimitExceeded_ReportsOnlyTheLimit()
    {
        var edges = string.Join(",", Enumerable.Repeat(Edge("hook", "ghost"), DefinitionValidator.MaxEdges + 1));
        var json = Def(Hook, edges);

        var result = DefinitionValidator.Validate(json);

        result.Problems.Should().Equal(new DefinitionProblem(null, "workflow has 2001 edges; at most 2000 are allowed"));
    }

    [Fact]
    public void Validate_AtTheLimits_IsValid()
    {
        // A chain of 499 transforms after the trigger: 500 nodes, 499 edges, and the deepest possible graph walk.
        var nodes = Enumerable.Range(1, DefinitionValidator.MaxNodes - 1).Select(i => Transform($"n{i}"));
        var edges = Enumerable.Range(1, DefinitionValidator.MaxNodes - 1).Select(i => Edge(i == 1 ? "hook" : $"n{i - 1}", $"n{i}"));
        var json = Def(string.Join(",", nodes.Prepend(Hook)), string.Join(",", edges));

        var result = DefinitionValidator.Validate(json);

        result.Problems.Should().BeEmpty();
        result.Workflow!.Nodes.Should().HaveCount(DefinitionValidator.MaxNodes);
    }

    [Fact]
    public void Validate_HttpCall_KeepsHeadersInDefinitionOrderAsCompiledExpressions()
    {
        var json = Def(
            Hook + "," + """{"id":"c","type":"http_call","data":{"method":"options","url":"https://x.test/","headers":{"X-B":"'b'","X-A":"trigger.headers.a"}}}""",
            Edge("hook", "c"));

        var call = (HttpCallNode)DefinitionValidator.Validate(json).Workflow!["c"];

        call.Method.Should().Be(HttpMethod.Options);
        call.Headers.Select(h => h.Key).Should().Equal("X-B", "X-A");
        call.Headers[0].Value.Should().BeOfType<ExpressionHeaderValue>().Which.Expression.Evaluate(new Newtonsoft.Json.Linq.JObject()).ToString().Should().Be("b");
        call.Retry.Should().Be(RetryPolicy.Default);
        call.Timeout.Should().Be(TimeSpan.FromSeconds(10));
        call.Body.Should().BeNull();
    }

    private static string Def(string nodes, string edges) => $$$"""{"nodes":[{{{nodes}}}],"edges":[{{{edges}}}]}""";

    private static string Edge(string source, string target, string? label = null) =>
        label is null
            ? $$$"""{"source":"{{{source}}}","target":"{{{target}}}"}"""
            : $$$"""{"source":"{{{source}}}","target":"{{{target}}}","label":"{{{label}}}"}""";

    private static string Transform(string id) => $$$"""{"id":"{{{id}}}","type":"transform","data":{"expression":"@"}}""";

    private static string Branch(string id) => $$$"""{"id":"{{{id}}}","type":"branch","data":{"condition":"@"}}""";

    private static string Delay(string ms) =>
        Def(Hook + "," + $$$"""{"id":"d","type":"delay","data":{"ms":{{{ms}}}}}""", Edge("hook", "d"));

    private static string Terminate(string status) =>
        Def(Hook + "," + $$$"""{"id":"end","type":"terminate","data":{"status":{{{status}}}}}""", Edge("hook", "end"));

    private static string Call(string data) =>
        Def(Hook + "," + $$$"""{"id":"c","type":"http_call","data":{{{data}}}}""", Edge("hook", "c"));

    /// <summary>A node as one line, so a table row can state every typed field the validator produced.</summary>
    private static string Describe(WorkflowNode node) => node switch
    {
        WebhookNode n => $"webhook {n.Id}",
        TransformNode n => $"transform {n.Id} {n.Expression}",
        BranchNode n => $"branch {n.Id} {n.Condition}",
        DelayNode n => $"delay {n.Id} {Ms(n.Duration)}",
        TerminateNode n => $"terminate {n.Id} {n.Status}",
        HttpCallNode n =>
            $"http_call {n.Id} {n.Method} {n.Url} " +
            $"headers=[{string.Join(", ", n.Headers.Select(h => $"{h.Key}={h.Value}"))}] " +
            $"body={n.Body?.Text ?? "-"} timeout={Ms(n.Timeout)} " +
            $"retry={n.Retry.MaxAttempts}x {Ms(n.Retry.BaseDelay)}..{Ms(n.Retry.MaxDelay)}",
        _ => throw new ArgumentOutOfRangeException(nameof(node), node, "unknown node type"),
    };

    private static string Describe(WorkflowEdge edge) =>
        edge.Label is null ? $"{edge.Source} -> {edge.Target}" : $"{edge.Source} -{edge.Label}-> {edge.Target}";

    private static string Ms(TimeSpan duration) =>
        ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
}
