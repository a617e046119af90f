using System.Net;

namespace Flannel;

/// <summary>A node's subnet lease: its pod subnet(s), what it published, and when the lease ends.</summary>
public sealed record Lease
{
    /// <summary>The IPv4 pod subnet, when the lease carries IPv4.</summary>
    public IPNetwork? Subnet { get; init; }

    /// <summary>The IPv6 pod subnet, when the lease carries IPv6.</summary>
    public IPNetwork? IPv6Subnet { get; init; }

    /// <summary>What the node published with the lease.</summary>
    public LeaseAttributes Attributes { get; init; } = new();

    /// <summary>When the lease expires; null for a lease without a TTL (a reservation).</summary>
    public DateTimeOffset? Expiration { get; init; }

    /// <summary>The store revision that last wrote the lease (etcd ModRevision); informational.</summary>
    public long Revision { get; init; }

    /// <summary>True when the lease carries an IPv4 subnet.</summary>
    public bool EnableIPv4 => Subnet is not null;

    /// <summary>True when the lease carries an IPv6 subnet.</summary>
    public bool EnableIPv6 => IPv6Subnet is not null;

    /// <summary>True when the lease has no TTL: a permanent reservation kept as such by the stores.</summary>
    public bool IsReservation => Expiration is null;
}
