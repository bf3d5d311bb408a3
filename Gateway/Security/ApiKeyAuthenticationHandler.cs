using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Security;

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c> against <see cref="ApiKeys"/>. Every <c>/api/…</c> route except the
/// webhook intake requires it (<see cref="Policy"/>); a missing header or a wrong key answers 401 problem+json with
/// <c>WWW-Authenticate: Bearer</c>. When the API is open on purpose (no key, <c>AllowAnonymousApi=true</c>) every
/// request is let through as anonymous.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggers,
    UrlEncoder encoder,
    ApiKeys keys,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggers, encoder)
{
    /// <summary>The authentication scheme's name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>The authorization policy the API's routes require.</summary>
    public const string Policy = "meshhook-api";

    /// <summary>The claim that names which configured key (its position in the list) a caller used, for rotation.</summary>
    public const string KeyClaim = "meshhook:api-key";

    private const string BearerPrefix = "Bearer ";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (keys.AnonymousAllowed)
        {
            return Task.FromResult(Success("anonymous"));
        }

        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.Fail("the Authorization header is not a Bearer token"));
        }

        var index = keys.Match(header[BearerPrefix.Length..].Trim());
        return Task.FromResult(index >= 0
            ? Success(index.ToString(System.Globalization.CultureInfo.InvariantCulture))
            : AuthenticateResult.Fail("the API key is not one of MeshHook:Gateway:ApiKeys"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var presented = Request.Headers.Authorization.Count > 0;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = presented ? "Bearer error=\"invalid_token\"" : "Bearer";
        var detail = presented
            ? "the API key is not valid: send Authorization: Bearer <key> with one of the gateway's API keys"
            : "this route needs an API key: send Authorization: Bearer <key>";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = detail,
                Extensions = { ["errors"] = new[] { new Api.ApiError(null, detail) } },
            },
        });
    }

    private AuthenticateResult Success(string key)
    {
        var identity = new ClaimsIdentity([new Claim(KeyClaim, key)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
