using System.Net;
using System.Net.Sockets;

namespace Flannel.Netlink;

/// <summary>A route as the kernel reports it (RTM_NEWROUTE).</summary>
/// <example><code>foreach (var r in await rtnl.Routes.ListAsync(new RouteFilter { Table = RouteTables.Main }, ct)) Console.WriteLine(r.Destination);</code></example>
public sealed record Route
{
    /// <summary>The address family.</summary>
    public required AddressFamily Family { get; init; }

    /// <summary>The destination (RTA_DST + rtm_dst_len; 0.0.0.0/0 or ::/0 for a default route).</summary>
    public required IPNetwork Destination { get; init; }

    /// <summary>RTA_GATEWAY.</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary>RTA_OIF.</summary>
    public int? OutputInterface { get; init; }

    /// <summary>The table (RTA_TABLE, or rtm_table).</summary>
    public uint Table { get; init; }

    /// <summary>rtm_protocol.</summary>
    public RouteProtocol Protocol { get; init; }

    /// <summary>rtm_scope.</summary>
    public RouteScope Scope { get; init; }

    /// <summary>rtm_type.</summary>
    public RouteType Type { get; init; }

    /// <summary>rtm_flags (RTNH_F_ONLINK = 4, RTM_F_CLONED = 0x200…).</summary>
    public uint Flags { get; init; }

    /// <summary>True when RTNH_F_ONLINK is set.</summary>
    public bool OnLink => (Flags & 4) != 0;

    /// <summary>RTA_PREFSRC.</summary>
    public IPAddress? PreferredSource { get; init; }

    /// <summary>RTA_PRIORITY (the metric).</summary>
    public uint? Metric { get; init; }

    /// <summary>Attributes this library does not decode, preserved.</summary>
    public IReadOnlyList<RawAttribute> UnknownAttributes { get; init; } = [];
}
