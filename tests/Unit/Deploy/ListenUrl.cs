using System.Text.RegularExpressions;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>One ASP.NET Core listen address (<c>http://+:8081</c>, <c>http://127.0.0.1:8080</c>), as Kestrel reads it.</summary>
public sealed partial record ListenUrl(string Scheme, string Host, int Port)
{
    /// <summary>Whether the address takes connections on every interface, so that a kubelet probe or a peer can reach it.</summary>
    public bool IsReachableFromOutside => Host is "+" or "*" or "0.0.0.0" or "[::]" or "::";

    /// <summary>The addresses of a <c>urls</c> setting (separated by ';'); an address that is not one is returned in <paramref name="invalid"/>.</summary>
    public static IReadOnlyList<ListenUrl> ParseAll(string urls, out IReadOnlyList<string> invalid)
    {
        var parsed = new List<ListenUrl>();
        var bad = new List<string>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = UrlPattern().Match(url);
            if (!match.Success)
            {
                bad.Add(url);
                continue;
            }

            var scheme = match.Groups["scheme"].Value.ToLowerInvariant();
            var port = match.Groups["port"].Success ? int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) : scheme == "https" ? 443 : 80;
            parsed.Add(new ListenUrl(scheme, match.Groups["host"].Value, port));
        }

        invalid = bad;
        return parsed;
    }

    [GeneratedRegex(@"^(?<scheme>https?)://(?<host>\[[^\]]*\]|[^:/\[\]]+)(:(?<port>[0-9]{1,5}))?/?$", RegexOptions.IgnoreCase)]
    private static partial Regex UrlPattern();
}
