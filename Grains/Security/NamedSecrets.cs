using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;

namespace MeshHook.Grains.Security;

/// <summary>The rules for named secrets' names, values and header prefixes.</summary>
public static partial class SecretNames
{
    /// <summary>Longest value, in characters.</summary>
    public const int MaxValueLength = 8192;

    /// <summary>Longest prefix of a secret header (<c>"Bearer "</c>).</summary>
    public const int MaxPrefixLength = 100;

    /// <summary>What a valid name looks like, for error messages.</summary>
    public const string Rule = "1 to 100 characters: letters, digits, '_', '-' and '.', starting with a letter or digit";

    public static bool IsValid(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>
    /// Printable ASCII only (space to '~'): a secret is sent as a header value, which the HTTP client refuses outside
    /// ASCII, and a line break or NUL in it would split the request.
    /// </summary>
    public static bool IsValidValue(string value) => value.Length is > 0 and <= MaxValueLength && IsPrintableAscii(value);

    public static bool IsValidPrefix(string prefix) => prefix.Length <= MaxPrefixLength && IsPrintableAscii(prefix);

    private static bool IsPrintableAscii(string text) => !text.AsSpan().ContainsAnyExceptInRange(' ', '~');

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}

/// <summary>Where http_call reads the named secrets its headers use.</summary>
public interface INamedSecrets
{
    /// <summary>The values of those of <paramref name="names"/> that exist; a missing name is absent from the result.</summary>
    Task<IReadOnlyDictionary<string, string>> ResolveAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken);
}

/// <summary>
/// Named secrets for outgoing calls (<c>meshhook_secrets</c>, sql/0107), encrypted with <see cref="SecretBox"/> and bound
/// to their name. Values leave this class only through <see cref="ResolveAsync"/>, for the request that uses them.
/// </summary>
public sealed class NamedSecretStore(NpgsqlDataSource dataSource, SecretBox box) : INamedSecrets
{
    /// <summary>Stores or replaces a secret; true when it is new.</summary>
    public async Task<bool> PutAsync(string name, string value, CancellationToken cancellationToken)
    {
        Check(name);
        if (!SecretNames.IsValidValue(value))
        {
            throw new ArgumentException($"a secret's value must be 1 to {SecretNames.MaxValueLength} printable ASCII characters", nameof(value));
        }

        await using var command = dataSource.CreateCommand("""
            INSERT INTO meshhook_secrets (name, value) VALUES (@name, @value)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = now()
            RETURNING xmax = 0
            """);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("value", box.Protect(value, Purpose(name)));
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Removes a secret; false when there was none of that name.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        Check(name);
        await using var command = dataSource.CreateCommand("DELETE FROM meshhook_secrets WHERE name = @name");
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>Every secret's name, in order; never a value.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT name FROM meshhook_secrets ORDER BY name");
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    /// <summary>Those of <paramref name="names"/> that no secret has, in the order given.</summary>
    public async Task<IReadOnlyList<string>> FindMissingAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return [];
        }

        var found = await FindAsync(names, "name", cancellationToken);
        return [.. names.Where(n => !found.ContainsKey(n))];
    }

    /// <summary>The values of those of <paramref name="names"/> that exist; a missing name is absent from the result.</summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A value this process's keys cannot read.</exception>
    public async Task<IReadOnlyDictionary<string, string>> ResolveAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return new Dictionary<string, string>();
        }

        var stored = await FindAsync(names, "value", cancellationToken);
        return stored.ToDictionary(p => p.Key, p => box.Unprotect(p.Value, Purpose(p.Key)), StringComparer.Ordinal);
    }

    private async Task<Dictionary<string, string>> FindAsync(IReadOnlyCollection<string> names, string column, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT name, {column} FROM meshhook_secrets WHERE name = ANY(@names)");
        command.Parameters.Add(new NpgsqlParameter("names", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = names.ToArray() });
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetString(0)] = reader.GetString(1);
        }

        return found;
    }

    private static void Check(string name)
    {
        if (!SecretNames.IsValid(name))
        {
            throw new ArgumentException($"a secret's name must be {SecretNames.Rule}", nameof(name));
        }
    }

    /// <summary>A value is bound to its name: copied to another row, it does not decrypt.</summary>
    private static string Purpose(string name) => $"meshhook.named-secret:{name}";
}
