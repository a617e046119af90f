using System.Net;

namespace Flannel;

/// <summary>
/// "Out of subnets": every subnet between SubnetMin and SubnetMax is leased. The message names the network and the
/// range; free subnets by releasing the leases of removed nodes, or widen the range.
/// </summary>
public sealed class SubnetExhaustedException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public SubnetExhaustedException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What is wrong.</param>
    public SubnetExhaustedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public SubnetExhaustedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one exhausted range.</summary>
    /// <param name="network">The network (<c>Network</c> or <c>IPv6Network</c>).</param>
    /// <param name="subnetLength">The per-node prefix length.</param>
    /// <param name="subnetMin">The first allocatable subnet.</param>
    /// <param name="subnetMax">The last allocatable subnet.</param>
    /// <param name="leaseCount">How many leases the store holds in that family.</param>
    public SubnetExhaustedException(IPNetwork network, int subnetLength, IPAddress subnetMin, IPAddress subnetMax, int leaseCount)
        : base($"out of subnets: no free /{subnetLength} left in {network} between {subnetMin} and {subnetMax} ({leaseCount} leases held); " +
               "release the leases of nodes that are gone, or widen SubnetMin/SubnetMax or Network")
    {
        Network = network;
        SubnetLength = subnetLength;
        SubnetMin = subnetMin;
        SubnetMax = subnetMax;
    }

    /// <summary>The exhausted network.</summary>
    public IPNetwork? Network { get; }

    /// <summary>The per-node prefix length.</summary>
    public int SubnetLength { get; }

    /// <summary>The first allocatable subnet address.</summary>
    public IPAddress? SubnetMin { get; }

    /// <summary>The last allocatable subnet address.</summary>
    public IPAddress? SubnetMax { get; }

    /// <summary>True: leases expire and are released, so a later attempt may succeed.</summary>
    public override bool IsTransient => true;
}
