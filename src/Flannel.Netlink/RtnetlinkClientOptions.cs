using Microsoft.Extensions.Logging;

namespace Flannel.Netlink;

/// <summary>Options for <see cref="RtnetlinkClient.Open"/>.</summary>
/// <example><code>var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns, DumpRetries = 10 });</code></example>
public sealed class RtnetlinkClientOptions
{
    /// <summary>The namespace to open the client into, or null for the caller's (the process's) namespace.</summary>
    public NetworkNamespace? Namespace { get; set; }

    /// <summary>How many times a dump interrupted by concurrent changes (NLM_F_DUMP_INTR) is retried; default 5.</summary>
    public int DumpRetries { get; set; } = 5;

    /// <summary>The socket send and receive buffer size in bytes (forced when CAP_NET_ADMIN allows); default 4 MiB.</summary>
    public int SocketBufferSize { get; set; } = 4 << 20;

    /// <summary>The receive buffer of each <see cref="RtnetlinkClient.WatchAsync"/> socket in bytes; default 1 MiB. When it overflows the monitor reports a <see cref="ResyncEvent"/>.</summary>
    public int MonitorBufferSize { get; set; } = 1 << 20;

    /// <summary>Where to log, or null for no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// The meter factory of the <c>Flannel.Netlink</c> instruments (requests, failures, dumps and monitor resyncs by
    /// message type; docs/netlink.md), or null for none. Clients given the same factory count into the same series.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }
}
