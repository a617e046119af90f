using System.Runtime.Versioning;

namespace Flannel.Netlink;

/// <summary>The results of <see cref="RtnetlinkBatch.ExecuteAsync"/>, one per request in order; valid until the batch is changed.</summary>
/// <example>
/// <code>
/// var result = await batch.ExecuteAsync(ct);
/// for (var i = 0; i &lt; result.Count; i++) if (!result[i].Succeeded) Console.WriteLine($"#{i}: {result[i].Error} {result[i].ExtendedAckMessage}");
/// </code>
/// </example>
[SupportedOSPlatform("linux")]
public readonly struct RtnetlinkBatchResult : IEquatable<RtnetlinkBatchResult>
{
    private readonly RtnetlinkBatch _batch;

    internal RtnetlinkBatchResult(RtnetlinkBatch batch)
    {
        _batch = batch;
        Count = batch.Count;
        FailedCount = batch.CountFailures();
    }

    /// <summary>The number of requests.</summary>
    public int Count { get; }

    /// <summary>How many requests failed (deletes of missing objects are not failures).</summary>
    public int FailedCount { get; }

    /// <summary>The result of request <paramref name="index"/>.</summary>
    /// <param name="index">The request's position in the batch.</param>
    public RtnetlinkBatchItemResult this[int index] => _batch.GetResult(index);

    /// <summary>Throws a <see cref="NetlinkException"/> for the first failed request, naming how many failed.</summary>
    public void ThrowIfAnyFailed()
    {
        if (FailedCount == 0)
        {
            return;
        }

        for (var i = 0; i < Count; i++)
        {
            var r = this[i];
            if (!r.Succeeded)
            {
                throw new NetlinkException(r.Operation, r.Error, $"batch request #{i} (first of {FailedCount} failed of {Count}): {r.ExtendedAckMessage}");
            }
        }
    }

    /// <inheritdoc />
    public bool Equals(RtnetlinkBatchResult other) => ReferenceEquals(_batch, other._batch) && Count == other.Count && FailedCount == other.FailedCount;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RtnetlinkBatchResult r && Equals(r);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_batch, Count, FailedCount);

    /// <summary>Compares two results.</summary>
    /// <param name="left">One.</param>
    /// <param name="right">The other.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(RtnetlinkBatchResult left, RtnetlinkBatchResult right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">One.</param>
    /// <param name="right">The other.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(RtnetlinkBatchResult left, RtnetlinkBatchResult right) => !left.Equals(right);
}

/// <summary>The result of one batched request.</summary>
/// <param name="Operation">The request type, e.g. <c>RTM_NEWROUTE</c>.</param>
/// <param name="Error">The kernel's error, or <see cref="Errno.None"/>.</param>
/// <param name="ExtendedAckMessage">The kernel's extended-ack message, if any.</param>
/// <param name="IsDelete">Whether the request was a delete.</param>
/// <example><code>if (result[i].Deleted is false) Console.WriteLine("was already gone");</code></example>
public readonly record struct RtnetlinkBatchItemResult(string Operation, Errno Error, string? ExtendedAckMessage, bool IsDelete)
{
    /// <summary>True when the request succeeded, or was a delete of something already gone.</summary>
    public bool Succeeded => Error == Errno.None || (IsDelete && Protocol.Nl.IsMissing(Error));

    /// <summary>For deletes: true when something was deleted, false when it was already gone; null for other requests.</summary>
    public bool? Deleted => IsDelete ? Error == Errno.None : null;
}
