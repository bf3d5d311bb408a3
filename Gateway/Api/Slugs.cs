using System.Text.RegularExpressions;

namespace MeshHook.Gateway.Api;

/// <summary>Workflow slugs: the format workflow_definitions' check constraint enforces (sql/0100).</summary>
public static partial class Slugs
{
    public const string Format = "1 to 100 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit";

    public static bool IsValid(string? slug) => slug is not null && Pattern().IsMatch(slug);

    public static IResult Invalid() => ApiProblems.BadRequest($"the slug is not valid: {Format}");

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,99}\\z", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Pattern();
}
