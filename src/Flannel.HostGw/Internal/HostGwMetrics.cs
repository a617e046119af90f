using System.Diagnostics.Metrics;

namespace Flannel.HostGw;

/// <summary>What a reconcile found changed under us and put right (the <c>what</c> tag of <c>flannel.hostgw.heals</c>).</summary>
internal enum HealKind
{
    /// <summary>A peer route that was missing or wrong (other gateway or device), programmed again.</summary>
    Route,

    /// <summary>A route in the overlay nobody asks for, removed.</summary>
    Stale,
}

/// <summary>
/// The host-gw backend's instruments on the <c>Flannel.HostGw</c> meter: the shared reconcile instruments
/// (<see cref="NetworkMetrics"/>, prefix <c>flannel.hostgw</c>) and the gauge <c>flannel.hostgw.routes</c> per family.
/// </summary>
internal sealed class HostGwMetrics : IDisposable
{
    public const string MeterName = "Flannel.HostGw";

    private readonly NetworkMetrics _shared;

    /// <param name="factory">The host's meter factory, or null for a private meter.</param>
    /// <param name="instance">The network instance name (the <c>instance</c> tag).</param>
    /// <param name="routes">The peer routes per family: IPv4 and IPv6.</param>
    public HostGwMetrics(IMeterFactory? factory, string instance, Func<(int IPv4, int IPv6)> routes)
    {
        _shared = new NetworkMetrics(factory, MeterName, instance, ["route", "stale"], new NetworkMetricTexts(
            "flannel.hostgw", "the route table", "{route}", "Routes", "Route requests"));
        _shared.Meter.CreateObservableGauge("flannel.hostgw.routes", () => Routes(routes), "{route}", "Peer routes the lease set asks for, per family");
    }

    public void Reconciled(ReconcileTrigger trigger, TimeSpan elapsed) => _shared.Reconciled(trigger, elapsed);

    public void Healed(HealKind what, int count) => _shared.Healed((int)what, count);

    public void Failed(int count) => _shared.Failed(count);

    public void Dispose() => _shared.Dispose();

    private IEnumerable<Measurement<int>> Routes(Func<(int IPv4, int IPv6)> routes)
    {
        if (_shared.IsDisposed)
        {
            return [];
        }

        var (v4, v6) = routes();
        return
        [
            new Measurement<int>(v4, _shared.Instance, new KeyValuePair<string, object?>("family", "ipv4")),
            new Measurement<int>(v6, _shared.Instance, new KeyValuePair<string, object?>("family", "ipv6")),
        ];
    }
}
