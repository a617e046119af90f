namespace Flannel.Udp;

/// <summary>Host-side tuning of the udp backend (the network-wide <c>Port</c> comes from net-conf.json).</summary>
/// <example>
/// <code>
/// services.AddFlannel().AddUdpBackend(o => o.Offloads = false); // plain one-packet-per-syscall TUN, like flannel's proxy
/// </code>
/// </example>
public sealed class UdpBackendOptions
{
    /// <summary>
    /// Use TUN offloads (IFF_VNET_HDR with TSO, segmented in userspace), UDP GSO/GRO and TCP coalescing where the
    /// kernel offers them. The wire format is the same either way: one inner IPv4 packet per datagram. Default: true.
    /// </summary>
    public bool Offloads { get; set; } = true;

    /// <summary>SO_RCVBUF/SO_SNDBUF of the UDP socket in bytes (forced when permitted), or 0 for the kernel defaults.</summary>
    public int SocketBufferSize { get; set; } = 4 << 20;

    /// <summary>The TUN device name or template; flannel's <c>flannel%d</c> yields <c>flannel0</c>.</summary>
    public string DeviceName { get; set; } = "flannel%d";

    /// <summary>
    /// How often the running network checks its data path — the TUN device (present, up, MTU, address), the route for
    /// the overlay network through it, the UDP socket and the forwarding threads — and repairs what it finds broken.
    /// Kernel notifications and pump faults trigger a check at once; this is the backstop. Default: 5 seconds.
    /// </summary>
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}
