using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel;

/// <summary>Everything a backend needs from its host: the subnet manager, the underlay interface and services.</summary>
public sealed record BackendContext
{
    /// <summary>The subnet manager leases come from.</summary>
    public required ISubnetManager SubnetManager { get; init; }

    /// <summary>The underlay interface and public endpoints.</summary>
    public required ExternalInterface Interface { get; init; }

    /// <summary>A name for this network instance, used in log scopes and to keep several instances apart.</summary>
    public string InstanceName { get; init; } = "default";

    /// <summary>
    /// The network namespace the backend programs, as a path (for example <c>/var/run/netns/host1</c>);
    /// null for the namespace of the calling process.
    /// </summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>The IPv4 subnet this node held before (subnet.env or a state store), offered for reuse.</summary>
    public System.Net.IPNetwork? PreviousSubnet { get; init; }

    /// <summary>The IPv6 subnet this node held before, offered for reuse.</summary>
    public System.Net.IPNetwork? PreviousIPv6Subnet { get; init; }

    /// <summary>The logger factory.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>The clock.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The meter factory for metrics, or null to create unshared meters.</summary>
    public IMeterFactory? MeterFactory { get; init; }

    /// <summary>
    /// Where the running network reports data-path problems it cannot repair right now, and their end; null when
    /// nobody listens. <c>FlannelNode</c> sets it and raises node events from the reports.
    /// </summary>
    public IDataPathMonitor? DataPath { get; init; }
}
