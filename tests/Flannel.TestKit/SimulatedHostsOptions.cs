namespace Flannel.TestKit;

/// <summary>How to build a <see cref="SimulatedHosts"/> lab.</summary>
public sealed record SimulatedHostsOptions
{
    /// <summary>
    /// Hosts per underlay subnet. One entry: every host on one L2 segment (198.18.0.0/24). Two or more entries:
    /// one segment per entry (198.18.K.0/24), joined by a router namespace at 198.18.K.254 that every host uses
    /// as its default route.
    /// </summary>
    public IReadOnlyList<int> HostsPerSubnet { get; init; } = [3];

    /// <summary>Whether hosts also get an IPv6 underlay address (fd00:198:18:K::X/64).</summary>
    public bool IPv6 { get; init; }

    /// <summary>The underlay MTU (veth MTU of every host's eth0).</summary>
    public int Mtu { get; init; } = 1500;
}
