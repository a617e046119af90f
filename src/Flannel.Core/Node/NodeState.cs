namespace Flannel.Node;

/// <summary>The lifecycle state of a <see cref="FlannelNode"/>.</summary>
public enum NodeState
{
    /// <summary>Created, not started.</summary>
    Created,

    /// <summary>Starting: reading config, selecting the interface, acquiring the lease, programming.</summary>
    Starting,

    /// <summary>Ready: lease held, data path programmed, rules installed, subnet file written.</summary>
    Ready,

    /// <summary>Stopping (the data path stays).</summary>
    Stopping,

    /// <summary>Stopped; the data path is still in place.</summary>
    Stopped,

    /// <summary>Failed; <see cref="FlannelNode.Completion"/> holds the typed exception.</summary>
    Faulted,

    /// <summary>Torn down: everything this node created has been removed.</summary>
    TornDown,
}
