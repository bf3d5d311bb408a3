namespace MeshHook.Gateway.Api;

/// <summary>
/// RFC 7807 answers (<c>application/problem+json</c>): <c>type, title, status, detail</c> and an <c>errors</c> list
/// of <see cref="ApiError"/> that always holds at least one entry.
/// </summary>
public static class ApiProblems
{
    public static IResult Create(int status, string detail, IReadOnlyList<ApiError>? errors = null) =>
        TypedResults.Problem(
            detail: detail,
            statusCode: status,
            extensions: new Dictionary<string, object?> { ["errors"] = errors is { Count: > 0 } ? errors : [new ApiError(null, detail)] });

    public static IResult BadRequest(string detail, IReadOnlyList<ApiError>? errors = null) => Create(StatusCodes.Status400BadRequest, detail, errors);

    public static IResult NotFound(string detail) => Create(StatusCodes.Status404NotFound, detail);

    public static IResult Unauthorized(string detail) => Create(StatusCodes.Status401Unauthorized, detail);

    public static IResult TooLarge(long limit) => Create(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {limit} bytes");

    /// <summary>
    /// A declared Content-Type that is not JSON. DESIGN.md's contract answers every non-JSON body with 400 (HTTP's own
    /// code for this would be 415), so this is a 400 too, with a message that names the media type.
    /// </summary>
    public static IResult NotJsonContentType(string? contentType) =>
        BadRequest($"the body must be JSON: content type '{contentType}' is not JSON; send application/json");

    /// <summary>
    /// 503 with Retry-After because Postgres could not serve <paramref name="operation"/>, logged once with the failure's
    /// type and message (<see cref="GatewayLog.StoreUnavailable"/>).
    /// </summary>
    public static IResult StoreUnavailable(HttpContext context, int retryAfterSeconds, ILogger logger, string operation, Exception failure, string detail)
    {
        GatewayLog.StoreUnavailable(logger, operation, failure.GetType().Name, failure.Message);
        return Unavailable(context, retryAfterSeconds, detail);
    }

    /// <summary>503 with Retry-After: a dependency (Postgres, the cluster) cannot serve the request now.</summary>
    public static IResult Unavailable(HttpContext context, int retryAfterSeconds, string detail)
    {
        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Create(StatusCodes.Status503ServiceUnavailable, detail);
    }
}
