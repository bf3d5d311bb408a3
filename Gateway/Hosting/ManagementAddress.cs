using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Hosting;

/// <summary>
/// With <see cref="GatewayOptions.ManagementUrls"/> set, <c>/metrics</c> and <c>/openapi</c> answer only on those
/// addresses and everything else but <c>/health</c> only on the main one; the other side answers 404. Decided by the
/// local port the connection came in on, which a client cannot choose, not by the Host header, which it can.
/// </summary>
public static class ManagementAddress
{
    public static IApplicationBuilder UseManagementAddress(this IApplicationBuilder app)
    {
        var ports = app.ApplicationServices.GetRequiredService<IOptions<GatewayOptions>>().Value.ManagementPorts();
        if (ports.Count == 0)
        {
            return app;
        }

        return app.Use((context, next) =>
        {
            var path = context.Request.Path;
            if (path.StartsWithSegments("/health"))
            {
                return next(context);
            }

            var management = path.StartsWithSegments("/metrics") || path.StartsWithSegments("/openapi");
            if (management != ports.Contains(context.Connection.LocalPort))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
    }
}
