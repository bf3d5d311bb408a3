using System.Security.Cryptography;
using AwesomeAssertions;
using MeshHook.Grains.Security;
using Microsoft.Extensions.Options;

namespace MeshHook.Tests.Unit.Security;

/// <summary>Secrets at rest: encrypted with the configured key, bound to their purpose, readable after a key rotation.</summary>
public sealed class SecretBoxTests
{
    private static readonly string KeyA = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string KeyB = Convert.ToBase64String(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public void Protect_StoresNeitherThePlaintextNorTheSameValueTwice_AndUnprotectReadsItBack()
    {
        var box = Box(KeyA);

        var first = box.Protect("whsec_very_secret", "purpose");
        var second = box.Protect("whsec_very_secret", "purpose");

        first.Should().StartWith("mhenc:v1:").And.NotContain("whsec_very_secret");
        second.Should().NotBe(first, "every encryption takes a fresh nonce");
        box.Unprotect(first, "purpose").Should().Be("whsec_very_secret");
        box.Unprotect(second, "purpose").Should().Be("whsec_very_secret");
    }

    [Fact]
    public void Unprotect_ForAnotherPurpose_OrTamperedWith_Fails()
    {
        var box = Box(KeyA);
        var stored = box.Protect("s", "workflow-a");

        box.Invoking(b => b.Unprotect(stored, "workflow-b")).Should().Throw<CryptographicException>("a value copied to another workflow must not decrypt");
        var tampered = stored[..^4] + (stored[^4] == 'A' ? "B" : "A") + stored[^3..];
        box.Invoking(b => b.Unprotect(tampered, "workflow-a")).Should().Throw<CryptographicException>();
    }

    [Fact]
    public void Rotation_TheNewKeyWrites_ThePreviousOneStillReads_AndWithoutItTheErrorNamesOnlyTheKeyId()
    {
        var old = Box(KeyA).Protect("s", "p");
        var rotated = Box(KeyB, previous: KeyA);

        rotated.Unprotect(old, "p").Should().Be("s");
        rotated.Protect("s", "p").Should().NotStartWith(old[..18], "new values are written with the new key");

        var error = Box(KeyB).Invoking(b => b.Unprotect(old, "p")).Should().Throw<CryptographicException>().Which.Message;
        error.Should().Contain("MeshHook:Secrets:PreviousKeys").And.NotContain(KeyA);
    }

    [Fact]
    public void WithoutAKey_AndUnencryptedAllowed_SecretsStayAsTheyAre_AndOldPlaintextReadsBack()
    {
        var box = new SecretBox(Options.Create(new SecretOptions { AllowUnencrypted = true }));

        box.Encrypts.Should().BeFalse();
        box.Protect("s", "p").Should().Be("s");
        Box(KeyA).Unprotect("written-before-encryption", "p").Should().Be("written-before-encryption");
    }

    [Fact]
    public void Problems_NoKeyWithoutTheFlag_OrABadKey_AreNamedWithoutTheValue()
    {
        new SecretOptions().Problems().Should().ContainSingle().Which.Should().Contain("no MeshHook:Secrets:Key is configured");
        new SecretOptions { AllowUnencrypted = true }.Problems().Should().BeEmpty();
        new SecretOptions { Key = "c2hvcnQ=" }.Problems().Should().ContainSingle().Which.Should().Be("MeshHook:Secrets:Key must be 32 bytes in base64");
        new SecretOptions { Key = KeyA, PreviousKeys = ["nope"] }.Problems().Should().ContainSingle().Which.Should().NotContain("nope");
    }

    private static SecretBox Box(string key, string? previous = null) =>
        new(Options.Create(new SecretOptions { Key = key, PreviousKeys = previous is null ? [] : [previous] }));
}
