using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.Node;

/// <summary>The collaborators a <see cref="FlannelNode"/> composes; all are injected, none are ambient.</summary>
public sealed record FlannelNodeServices
{
    /// <summary>Where leases come from (etcd, the embedded store, in-memory, or the host's own).</summary>
    public required ISubnetManager SubnetManager { get; init; }

    /// <summary>The backend types this node can run, registered by the host.</summary>
    public required IReadOnlyList<IBackendFactory> Backends { get; init; }

    /// <summary>How the underlay interface is found; required unless <see cref="InterfaceSelection.Explicit"/> is set.</summary>
    public IInterfaceResolver? InterfaceResolver { get; init; }

    /// <summary>Where the previous lease is remembered between runs (for example subnet.env); null for nowhere.</summary>
    public ILeaseStateStore? StateStore { get; init; }

    /// <summary>The logger factory.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>The clock.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The meter factory, or null for unshared meters.</summary>
    public IMeterFactory? MeterFactory { get; init; }
}
