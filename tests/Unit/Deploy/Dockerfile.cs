using System.Text;
using System.Text.Json;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>
/// The instructions of a Dockerfile, as BuildKit reads them: comments and blank lines dropped, lines joined at a trailing
/// escape character (<c>\</c>, or the one a <c># escape=</c> directive names). Enough to check the final stage.
/// </summary>
public sealed class Dockerfile
{
    private Dockerfile(IReadOnlyList<DockerInstruction> instructions) => Instructions = instructions;

    public IReadOnlyList<DockerInstruction> Instructions { get; }

    /// <summary>The instructions of the last stage (from its FROM on): what the image that runs is made of.</summary>
    public IReadOnlyList<DockerInstruction> FinalStage =>
        Instructions.Skip(Math.Max(0, Instructions.ToList().FindLastIndex(i => i.Keyword == "FROM"))).ToList();

    /// <summary>The final stage's last instruction with <paramref name="keyword"/>, if any (the one that takes effect).</summary>
    public DockerInstruction? Last(string keyword) => FinalStage.LastOrDefault(i => i.Keyword == keyword);

    /// <summary>The value the final stage gives an environment variable (ENV key=value or the legacy ENV key value).</summary>
    public string? Env(string name)
    {
        string? value = null;
        foreach (var env in FinalStage.Where(i => i.Keyword == "ENV"))
        {
            foreach (var (key, v) in env.KeyValues())
            {
                if (key == name)
                {
                    value = v;
                }
            }
        }

        return value;
    }

    public static Dockerfile Parse(string text)
    {
        var escape = '\\';
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var instructions = new List<DockerInstruction>();
        var current = new StringBuilder();
        var startLine = 0;
        var directivesAllowed = true;
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n];
            var trimmed = line.Trim();
            if (directivesAllowed && trimmed.StartsWith('#'))
            {
                var directive = trimmed.TrimStart('#').Trim();
                if (directive.StartsWith("escape=", StringComparison.OrdinalIgnoreCase) && directive.Length > "escape=".Length)
                {
                    escape = directive["escape=".Length..].Trim()[0];
                }

                continue;
            }

            if (trimmed.Length > 0)
            {
                directivesAllowed = false;
            }

            // A comment line inside a continued instruction is dropped, as BuildKit does.
            if (trimmed.StartsWith('#') || (trimmed.Length == 0 && current.Length == 0))
            {
                continue;
            }

            if (current.Length == 0)
            {
                startLine = n + 1;
            }

            if (trimmed.EndsWith(escape))
            {
                current.Append(trimmed[..^1]).Append(' ');
                continue;
            }

            current.Append(trimmed);
            instructions.Add(DockerInstruction.From(current.ToString(), startLine));
            current.Clear();
        }

        if (current.Length > 0)
        {
            instructions.Add(DockerInstruction.From(current.ToString(), startLine));
        }

        return new Dockerfile(instructions);
    }
}

/// <summary>One instruction: its keyword (upper case), its arguments as written, and the line it starts on.</summary>
public sealed record DockerInstruction(string Keyword, string Arguments, int Line)
{
    public static DockerInstruction From(string text, int line)
    {
        var space = text.IndexOfAny([' ', '\t']);
        return space < 0
            ? new DockerInstruction(text.ToUpperInvariant(), "", line)
            : new DockerInstruction(text[..space].ToUpperInvariant(), text[(space + 1)..].Trim(), line);
    }

    /// <summary>The exec form's words (a JSON array of strings), or null when the instruction is in shell form.</summary>
    public IReadOnlyList<string>? ExecForm()
    {
        if (!Arguments.StartsWith('['))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<string[]>(Arguments);
        }
        catch (JsonException)
        {
            // Docker runs an argument that is not a valid JSON array through a shell, too.
            return null;
        }
    }

    /// <summary>The pairs of an ENV or LABEL instruction (<c>k=v k2="v 2"</c>, or the legacy <c>ENV k v</c>).</summary>
    public IEnumerable<(string Key, string Value)> KeyValues()
    {
        var words = Words(Arguments);
        if (words.Count > 0 && !words[0].Contains('=', StringComparison.Ordinal))
        {
            var space = Arguments.IndexOfAny([' ', '\t']);
            yield return (words[0], space < 0 ? "" : Arguments[(space + 1)..].Trim());
            yield break;
        }

        foreach (var word in words)
        {
            var equals = word.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                yield return (word[..equals], word[(equals + 1)..]);
            }
        }
    }

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        char? quote = null;
        var any = false;
        foreach (var c in text)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any || word.Length > 0)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    any = false;
                }
            }
            else
            {
                word.Append(c);
            }
        }

        if (any || word.Length > 0)
        {
            words.Add(word.ToString());
        }

        return words;
    }
}
