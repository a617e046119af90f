using System.Net;

namespace Flannel;

/// <summary>What a node asks for when it acquires a lease.</summary>
public sealed record LeaseRequest
{
    /// <summary>Creates a request publishing the given attributes.</summary>
    /// <param name="attributes">The attributes to publish; <see cref="LeaseAttributes.PublicIP"/> is the lease identity.</param>
    public LeaseRequest(LeaseAttributes attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        Attributes = attributes;
    }

    /// <summary>The attributes to publish.</summary>
    public LeaseAttributes Attributes { get; init; }

    /// <summary>The IPv4 subnet this node held before (from subnet.env or a state store), reused when free.</summary>
    public IPNetwork? PreviousSubnet { get; init; }

    /// <summary>The IPv6 subnet this node held before, reused when free.</summary>
    public IPNetwork? PreviousIPv6Subnet { get; init; }
}
