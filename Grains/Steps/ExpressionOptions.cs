using System.ComponentModel.DataAnnotations;
using MeshHook.Grains.Definitions;

namespace MeshHook.Grains.Steps;

/// <summary>What one JMESPath evaluation of a step may spend, bound from <c>MeshHook:Expressions</c> on the silo.</summary>
public sealed record ExpressionOptions
{
    public const string Section = "MeshHook:Expressions";

    /// <summary>
    /// How long one evaluation (a transform, a branch condition, an http_call's header or body) may run (1 s). One that
    /// runs longer is stopped and fails its step, saying so.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan Timeout { get; init; } = ExpressionLimits.Default.Timeout;

    /// <summary>
    /// How many bytes one evaluation may build (256 MiB), counting each copy that a multi-select or a function is about
    /// to make of a value before it makes it. One that would build more is stopped and fails its step, saying so.
    /// </summary>
    [Range(1024L * 1024, 16L * 1024 * 1024 * 1024)]
    public long MaxBytes { get; init; } = ExpressionLimits.Default.MaxBytes;

    public ExpressionLimits Limits => new(Timeout, MaxBytes);
}
