using System.Diagnostics.Metrics;

namespace Flannel.HostGw;

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

/// <summary>What a reconcile found changed under us and put right (the <c>what</c> tag of <c>flannel.hostgw.heals</c>).</summary>
internal enum HealKind
{
    /// <summary>A peer route that was missing or wrong (other gateway or device), programmed again.</summary>
    Route,

    /// <summary>A route in the overlay nobody asks for, removed.</summary>
    Stale,
}

/// <summary>
/// The host-gw backend's instruments on the <c>Flannel.HostGw</c> meter (the factory's when given, else a private one).
/// Every measurement carries the network's <c>instance</c> tag; tag arrays are built once, so recording allocates
/// nothing. After <see cref="Dispose"/> the route gauge reports nothing (a factory's meter outlives the network).
/// </summary>
internal sealed class HostGwMetrics : IDisposable
{
    public const string MeterName = "Flannel.HostGw";

    private static readonly string[] TriggerNames = ["snapshot", "periodic", "heal", "manual"];
    private static readonly string[] HealNames = ["route", "stale"];

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
    /// <param name="routes">The peer routes per family: IPv4 and IPv6.</param>
    public HostGwMetrics(IMeterFactory? factory, string instance, Func<(int IPv4, int IPv6)> routes)
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

        _meter.CreateObservableGauge("flannel.hostgw.routes", () => Routes(routes), "{route}", "Peer routes the lease set asks for, per family");
        _reconciles = _meter.CreateCounter<long>("flannel.hostgw.reconciles", "{reconcile}", "Completed full reconciles of the route table against the lease set, by trigger");
        _duration = _meter.CreateHistogram<double>("flannel.hostgw.reconcile.duration", "s", "Duration of completed full reconciles, by trigger");
        _heals = _meter.CreateCounter<long>("flannel.hostgw.heals", "{route}", "Routes found removed or changed under us and put right by a periodic, heal or manual reconcile");
        _failures = _meter.CreateCounter<long>("flannel.hostgw.request_failures", "{request}", "Route requests the kernel refused, plus reconciles and updates aborted by an error");
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

    private IEnumerable<Measurement<int>> Routes(Func<(int IPv4, int IPv6)> routes)
    {
        if (_disposed)
        {
            return [];
        }

        var (v4, v6) = routes();
        return
        [
            new Measurement<int>(v4, _instance[0], new KeyValuePair<string, object?>("family", "ipv4")),
            new Measurement<int>(v6, _instance[0], new KeyValuePair<string, object?>("family", "ipv6")),
        ];
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
