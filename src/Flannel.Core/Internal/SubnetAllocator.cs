using System.Net;
using System.Net.Sockets;

namespace Flannel.Internal;

/// <summary>flannel's allocation rules over 128-bit arithmetic, for both families.</summary>
internal static class SubnetAllocator
{
    /// <summary>How many of the lowest free subnets the random pick chooses among (flannel: 100).</summary>
    public const int CandidateLimit = 100;

    /// <summary>Whether a lease's subnets fit the configuration (flannel's isSubnetConfigCompat, both families).</summary>
    public static bool IsCompatible(NetworkConfig config, IPNetwork? subnet, IPNetwork? ipv6Subnet)
    {
        if (config.EnableIPv4 && (subnet is not { } v4 || !InRange(v4, config.SubnetLen, config.SubnetMin!, config.SubnetMax!)))
        {
            return false;
        }

        if (!config.EnableIPv6)
        {
            return ipv6Subnet is null;
        }

        return ipv6Subnet is { } v6 && InRange(v6, config.IPv6SubnetLen, config.IPv6SubnetMin!, config.IPv6SubnetMax!);
    }

    /// <summary>Whether one family's subnet has the right length and lies in [min, max].</summary>
    public static bool InRange(IPNetwork subnet, int subnetLen, IPAddress min, IPAddress max)
    {
        if (subnet.PrefixLength != subnetLen || subnet.BaseAddress.AddressFamily != min.AddressFamily)
        {
            return false;
        }

        var x = IPText.ToUInt128(subnet.BaseAddress);
        return x >= IPText.ToUInt128(min) && x <= IPText.ToUInt128(max);
    }

    /// <summary>
    /// The lowest <paramref name="limit"/> aligned subnets in [min, max] that overlap none of <paramref name="taken"/>.
    /// Walks in subnet steps but jumps over taken ranges, so the cost is O(taken + limit), not O(range).
    /// </summary>
    public static List<IPNetwork> FreeCandidates(int subnetLen, IPAddress min, IPAddress max, IEnumerable<IPNetwork> taken, int limit = CandidateLimit)
    {
        var family = min.AddressFamily;
        var bits = family == AddressFamily.InterNetwork ? 32 : 128;
        var size = UInt128.One << (bits - subnetLen);
        var intervals = taken
            .Where(t => t.BaseAddress.AddressFamily == family)
            .Select(t =>
            {
                var start = IPText.ToUInt128(t.BaseAddress);
                var last = start + ((UInt128.One << (bits - t.PrefixLength)) - 1);
                return (Start: start, Last: last);
            })
            .OrderBy(t => t.Start)
            .ToList();

        var result = new List<IPNetwork>(Math.Min(limit, 128));
        var candidate = IPText.ToUInt128(min);
        var end = IPText.ToUInt128(max);
        var i = 0;
        while (candidate <= end && result.Count < limit)
        {
            var candidateLast = candidate + (size - 1);
            while (i < intervals.Count && intervals[i].Last < candidate)
            {
                i++;
            }

            if (i < intervals.Count && intervals[i].Start <= candidateLast)
            {
                // Overlap: continue at the first aligned subnet after the taken range.
                var after = intervals[i].Last;
                if (after >= end)
                {
                    break;
                }

                var next = ((after / size) + 1) * size;
                if (next <= candidate)
                {
                    break; // arithmetic wrapped at the top of the address space
                }

                candidate = next;
                continue;
            }

            result.Add(new IPNetwork(IPText.FromUInt128(candidate, family), subnetLen));
            if (candidateLast >= end || candidate + size < candidate)
            {
                break;
            }

            candidate += size;
        }

        return result;
    }
}
