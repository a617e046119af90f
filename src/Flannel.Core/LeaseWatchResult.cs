namespace Flannel;

/// <summary>
/// One step of a lease watch: either a full snapshot (at the start and after a resync, for example after
/// etcd compaction) or a batch of events.
/// </summary>
public sealed record LeaseWatchResult
{
    /// <summary>The full set of leases when this result is a snapshot; otherwise null.</summary>
    public IReadOnlyList<Lease>? Snapshot { get; init; }

    /// <summary>The events of this step (empty for a snapshot).</summary>
    public IReadOnlyList<LeaseEvent> Events { get; init; } = [];

    /// <summary>The store revision this result brings the watcher up to.</summary>
    public long Revision { get; init; }

    /// <summary>True when this result is a snapshot.</summary>
    public bool IsSnapshot => Snapshot is not null;
}
