using System.Diagnostics.Metrics;

namespace Flannel.Vxlan;

/// <summary>What started a full reconcile (the <c>trigger</c> tag).</summary>
internal enum ReconcileTrigger
{
    /// <summary>A lease snapshot (start, or the lease watch re-listed).</summary>
    Snapshot,

    /// <summary>The periodic check.</summary>
    Periodic,

    /// <summary>The kernel watch reported a change to something we own (or a retry after a failure).</summary>
    Heal,

    /// <summary>An explicit <c>ReconcileAsync</c> call.</summary>
    Manual,
}

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
/// The vxlan backend's instruments on the <c>Flannel.Vxlan</c> meter (the factory's when given, else a private one).
/// Every measurement carries the network's <c>instance</c> tag; tag arrays are built once, so recording allocates
/// nothing. After <see cref="Dispose"/> the peer gauge reports nothing (a factory's meter outlives the network).
/// </summary>
internal sealed class VxlanMetrics : IDisposable
{
    public const string MeterName = "Flannel.Vxlan";

    private static readonly string[] TriggerNames = ["snapshot", "periodic", "heal", "manual"];
    private static readonly string[] HealNames = ["peer", "stale", "device"];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _reconciles;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _heals;
    private readonly Counter<long> _failures;
    private readonly KeyValuePair<string, object?>[] _instance;
    private readonly KeyValuePair<string, object?>[][] _triggerTags;
    private readonly KeyValuePair<string, object?>[][] _healTags;
    private volatile bool _disposed;

    /// <param name="factory">The host's meter factory, or null for a private meter.</param>
    /// <param name="instance">The network instance name (the <c>instance</c> tag).</param>
    /// <param name="peers">Per device: its name, family tag (<c>ipv4</c>/<c>ipv6</c>) and programmed peer count.</param>
    public VxlanMetrics(IMeterFactory? factory, string instance, Func<IEnumerable<(string Device, string Family, int Peers)>> peers)
    {
        if (factory is not null)
        {
            _meter = factory.Create(MeterName);
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        var inst = new KeyValuePair<string, object?>("instance", instance);
        _instance = [inst];
        _triggerTags = [.. TriggerNames.Select(t => new KeyValuePair<string, object?>[] { inst, new("trigger", t) })];
        _healTags = [.. HealNames.Select(h => new KeyValuePair<string, object?>[] { inst, new("what", h) })];

        _meter.CreateObservableGauge("flannel.vxlan.peers", () => Peers(peers), "{peer}", "Peers programmed (neighbour, FDB entry, route) per vxlan device");
        _reconciles = _meter.CreateCounter<long>("flannel.vxlan.reconciles", "{reconcile}", "Completed full reconciles of the kernel state against the lease set, by trigger");
        _duration = _meter.CreateHistogram<double>("flannel.vxlan.reconcile.duration", "s", "Duration of completed full reconciles, by trigger");
        _heals = _meter.CreateCounter<long>("flannel.vxlan.heals", "{change}", "Kernel state found removed or changed under us and put right by a periodic, heal or manual reconcile");
        _failures = _meter.CreateCounter<long>("flannel.vxlan.request_failures", "{request}", "Netlink requests the kernel refused, plus reconciles and updates aborted by an error");
    }

    public void Reconciled(ReconcileTrigger trigger, TimeSpan elapsed)
    {
        var tags = _triggerTags[(int)trigger];
        _reconciles.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
    }

    public void Healed(HealKind what, int count)
    {
        if (count > 0)
        {
            _heals.Add(count, _healTags[(int)what]);
        }
    }

    public void Failed(int count)
    {
        if (count > 0)
        {
            _failures.Add(count, _instance);
        }
    }

    private IEnumerable<Measurement<int>> Peers(Func<IEnumerable<(string Device, string Family, int Peers)>> peers)
    {
        if (_disposed)
        {
            yield break;
        }

        foreach (var (device, family, count) in peers())
        {
            yield return new Measurement<int>(count, _instance[0], new KeyValuePair<string, object?>("device", device), new KeyValuePair<string, object?>("family", family));
        }
    }

    public void Dispose()
    {
        _disposed = true;
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
