namespace Flannel.Vxlan;

/// <summary>Host-side settings of the vxlan backend (the network's own options come from net-conf.json's <c>Backend</c>).</summary>
public sealed class VxlanBackendOptions
{
    /// <summary>
    /// The directory of the small state file that keeps each device's VTEP MAC stable across restarts
    /// (<c>vxlan-&lt;instance&gt;-&lt;VNI&gt;.json</c>); default <c>/var/lib/flannel</c>. Null disables the file
    /// (the MAC of an existing compatible device is still reused).
    /// </summary>
    public string? StateDirectory { get; set; } = "/var/lib/flannel";

    /// <summary>How often the full reconcile runs as a safety net (default 30 s).</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether to watch the kernel (netlink monitor) and restore deleted routes, neighbour and FDB entries and a
    /// deleted device at once (default true); the periodic reconcile runs either way.
    /// </summary>
    public bool WatchKernel { get; set; } = true;

    /// <summary>The route protocol number that marks the routes this backend installs (default 70).</summary>
    public byte RouteProtocol { get; set; } = 70;
}
