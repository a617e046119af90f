using System.Diagnostics.Metrics;

namespace Flannel.Vxlan;

/// <summary>What a reconcile found changed under us and put right (the <c>what</c> tag of <c>flannel.vxlan.heals</c>).</summary>
internal enum HealKind
{
    /// <summary>A peer whose neighbour, FDB entry or route was missing or wrong, programmed again.</summary>
    Peer,

    /// <summary>A neighbour, FDB entry or route nobody asks for, removed.</summary>
    Stale,

    /// <summary>A device that was deleted or reconfigured, set up again.</summary>
    Device,
}

/// <summary>
/// The vxlan backend's instruments on the <c>Flannel.Vxlan</c> meter: the shared reconcile instruments
/// (<see cref="NetworkMetrics"/>, prefix <c>flannel.vxlan</c>) and the gauge <c>flannel.vxlan.peers</c> per device.
/// </summary>
internal sealed class VxlanMetrics : IDisposable
{
    public const string MeterName = "Flannel.Vxlan";

    private readonly NetworkMetrics _shared;

    /// <param name="factory">The host's meter factory, or null for a private meter.</param>
    /// <param name="instance">The network instance name (the <c>instance</c> tag).</param>
    /// <param name="peers">Per device: its name, family tag (<c>ipv4</c>/<c>ipv6</c>) and programmed peer count.</param>
    public VxlanMetrics(IMeterFactory? factory, string instance, Func<IEnumerable<(string Device, string Family, int Peers)>> peers)
    {
        _shared = new NetworkMetrics(factory, MeterName, instance, ["peer", "stale", "device"], new NetworkMetricTexts(
            "flannel.vxlan", "the kernel state", "{change}", "Kernel state", "Netlink requests"));
        _shared.Meter.CreateObservableGauge("flannel.vxlan.peers", () => Peers(peers), "{peer}", "Peers programmed (neighbour, FDB entry, route) per vxlan device");
    }

    public void Reconciled(ReconcileTrigger trigger, TimeSpan elapsed) => _shared.Reconciled(trigger, elapsed);

    public void Healed(HealKind what, int count) => _shared.Healed((int)what, count);

    public void Failed(int count) => _shared.Failed(count);

    public void Dispose() => _shared.Dispose();

    private IEnumerable<Measurement<int>> Peers(Func<IEnumerable<(string Device, string Family, int Peers)>> peers)
    {
        if (_shared.IsDisposed)
        {
            yield break;
        }

        foreach (var (device, family, count) in peers())
        {
            yield return new Measurement<int>(count, _shared.Instance, new KeyValuePair<string, object?>("device", device), new KeyValuePair<string, object?>("family", family));
        }
    }
}
