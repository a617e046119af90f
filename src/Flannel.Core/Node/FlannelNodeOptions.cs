using System.Net;

namespace Flannel.Node;

/// <summary>
/// Everything that configures one <see cref="FlannelNode"/>: explicit values only — no environment variables,
/// no fixed paths. Several nodes with different options can run in one process.
/// </summary>
public sealed record FlannelNodeOptions
{
    /// <summary>A name for this instance, used in log scopes, state file names and error messages.</summary>
    public string InstanceName { get; init; } = "flannel";

    /// <summary>This node's name (informational; flanneld reads NODE_NAME).</summary>
    public string? NodeName { get; init; }

    /// <summary>The network configuration built in code; null to read it from the subnet manager.</summary>
    public NetworkConfig? NetworkConfig { get; init; }

    /// <summary>How to pick the underlay interface.</summary>
    public InterfaceSelection Interface { get; init; } = new();

    /// <summary>The advertised IPv4 endpoint (<c>--public-ip</c>), or null for the interface address.</summary>
    public IPAddress? PublicIP { get; init; }

    /// <summary>The advertised IPv6 endpoint (<c>--public-ipv6</c>), or null for the interface address.</summary>
    public IPAddress? PublicIPv6 { get; init; }

    /// <summary>The network namespace to program, as a path; null for the calling process's namespace.</summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>How long before expiry the lease is renewed (<c>--subnet-lease-renew-margin</c>, 1–1439 minutes).</summary>
    public TimeSpan RenewMargin { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary>How often a failed renewal is retried.</summary>
    public TimeSpan RenewRetryInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often reading the network configuration is retried while the store has none.</summary>
    public TimeSpan ConfigRetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When the node's own lease disappears from the store: true to take the same subnet back when it is still
    /// free (and fault with <see cref="LeaseRevokedException"/> only when it is not); false to fault at once.
    /// </summary>
    public bool ReacquireLostLease { get; init; } = true;

    /// <summary>Start even when the previous run used another backend type (the old data path is torn down first where possible).</summary>
    public bool AllowBackendChange { get; init; }

    /// <summary>Whether pods' traffic leaving the overlay is masqueraded (advertised as FLANNEL_IPMASQ).</summary>
    public bool IPMasq { get; init; }
}
