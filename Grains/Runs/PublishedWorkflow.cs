namespace MeshHook.Grains.Runs;

/// <summary>
/// A published workflow version as stored; <see cref="Secret"/> is the webhook HMAC key (null: unsigned intake), and
/// <see cref="SignatureMaxAge"/> set means its webhooks are signed with a timestamp no older than that (replay protection).
/// </summary>
public sealed record PublishedWorkflow(string Slug, int Version, string Name, string DefinitionJson, string? Secret, TimeSpan? SignatureMaxAge = null)
{
    /// <summary>Never prints the secret, so a logged or thrown record cannot leak it.</summary>
    public override string ToString() => $"PublishedWorkflow {{ Slug = {Slug}, Version = {Version}, Name = {Name}, HasSecret = {Secret is not null} }}";
}
