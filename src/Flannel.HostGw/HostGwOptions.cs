namespace Flannel.HostGw;

/// <summary>Host-side settings of the host-gw backend (net-conf.json has no host-gw options besides <c>Type</c>).</summary>
public sealed class HostGwOptions
{
    /// <summary>The route protocol number that marks the routes this backend installs (default 70).</summary>
    /// <remarks>
    /// The backend lists and removes only routes carrying this mark, so it never touches routes that others
    /// installed, and it can find its own orphans (peers that left while the agent was down) after a restart.
    /// </remarks>
    public byte RouteProtocol { get; set; } = DefaultRouteProtocol;

    /// <summary>The routing table peer routes go to; null for the main table.</summary>
    public int? Table { get; set; }

    /// <summary>How often the full reconcile runs as a safety net (default 10 s, as flannel's route check).</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The default <see cref="RouteProtocol"/>: 70, unassigned in iproute2's rt_protos.</summary>
    public const byte DefaultRouteProtocol = 70;
}
