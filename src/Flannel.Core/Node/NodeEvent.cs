namespace Flannel.Node;

/// <summary>The kind of a <see cref="NodeEvent"/>.</summary>
public enum NodeEventKind
{
    /// <summary>The node's state changed (see <see cref="NodeEvent.State"/>).</summary>
    StateChanged,

    /// <summary>The node acquired its lease.</summary>
    LeaseAcquired,

    /// <summary>The node's lease was renewed or changed in the store.</summary>
    LeaseChanged,

    /// <summary>The node's lease disappeared from the store.</summary>
    LeaseLost,

    /// <summary>A peer's lease appeared or changed.</summary>
    PeerAdded,

    /// <summary>A peer's lease was removed or expired.</summary>
    PeerRemoved,

    /// <summary>
    /// The backend could not program part of the data path (for example: the kernel refuses a peer's route while the
    /// underlay interface is down) and keeps retrying; <see cref="NodeEvent.Error"/> says what and why. Raised when the
    /// data path turns from healthy to degraded; the node stays <see cref="NodeState.Ready"/>.
    /// </summary>
    DataPathDegraded,

    /// <summary>A full reconcile programmed every peer again after <see cref="DataPathDegraded"/>.</summary>
    DataPathRestored,
}

/// <summary>Something that happened to a node: a state change, a change of its own lease, or a peer change.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="State">The node state after the event.</param>
/// <param name="Lease">The lease concerned (own or peer), when there is one.</param>
/// <param name="Error">The error that caused a fault, or the data-path problem of <see cref="NodeEventKind.DataPathDegraded"/>, when there is one.</param>
public sealed record NodeEvent(NodeEventKind Kind, NodeState State, Lease? Lease = null, Exception? Error = null);
