using System.Diagnostics.Metrics;

// Shared by Flannel.HostGw and Flannel.Vxlan (linked into the latter); the namespace follows the assembly.
#if FLANNEL_VXLAN
namespace Flannel.Vxlan;
#else
namespace Flannel.HostGw;
#endif

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

/// <summary>The texts of one backend's reconcile instruments (names are <c>{Prefix}.reconciles</c> and so on).</summary>
/// <param name="Prefix">The instrument name prefix, e.g. <c>flannel.vxlan</c>.</param>
/// <param name="ReconcileWhat">What a full reconcile compares, for descriptions ("the kernel state").</param>
/// <param name="HealUnit">The unit of the heal counter, e.g. <c>{change}</c>.</param>
/// <param name="HealWhat">What the heal counter counts, for its description.</param>
/// <param name="FailureWhat">What the failure counter counts, for its description.</param>
internal sealed record NetworkMetricTexts(string Prefix, string ReconcileWhat, string HealUnit, string HealWhat, string FailureWhat);

/// <summary>
/// The reconcile instruments both kernel backends share, on the backend's meter (the factory's when given, else a
/// private one): <c>reconciles</c> and <c>reconcile.duration</c> by trigger, <c>heals</c> by what was put right,
/// <c>request_failures</c>. Every measurement carries the network's <c>instance</c> tag; tag arrays are built once,
/// so recording allocates nothing. Each backend adds its own gauge on <see cref="Meter"/>, reporting nothing once
/// <see cref="IsDisposed"/> (a factory's meter outlives the network).
/// </summary>
internal sealed class NetworkMetrics : IDisposable
{
    private static readonly string[] TriggerNames = ["snapshot", "periodic", "heal", "manual"];

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
    /// <param name="meterName">The meter, e.g. <c>Flannel.Vxlan</c>.</param>
    /// <param name="instance">The network instance name (the <c>instance</c> tag).</param>
    /// <param name="healNames">The <c>what</c> tag values, indexed by the backend's heal kind.</param>
    /// <param name="texts">Instrument names and descriptions.</param>
    public NetworkMetrics(IMeterFactory? factory, string meterName, string instance, string[] healNames, NetworkMetricTexts texts)
    {
        if (factory is not null)
        {
            Meter = factory.Create(meterName);
        }
        else
        {
            Meter = new Meter(meterName);
            _ownsMeter = true;
        }

        Instance = new KeyValuePair<string, object?>("instance", instance);
        _instance = [Instance];
        _triggerTags = [.. TriggerNames.Select(t => new KeyValuePair<string, object?>[] { Instance, new("trigger", t) })];
        _healTags = [.. healNames.Select(h => new KeyValuePair<string, object?>[] { Instance, new("what", h) })];
        _reconciles = Meter.CreateCounter<long>($"{texts.Prefix}.reconciles", "{reconcile}", $"Completed full reconciles of {texts.ReconcileWhat} against the lease set, by trigger");
        _duration = Meter.CreateHistogram<double>($"{texts.Prefix}.reconcile.duration", "s", "Duration of completed full reconciles, by trigger");
        _heals = Meter.CreateCounter<long>($"{texts.Prefix}.heals", texts.HealUnit, $"{texts.HealWhat} found removed or changed under us and put right by a periodic, heal or manual reconcile");
        _failures = Meter.CreateCounter<long>($"{texts.Prefix}.request_failures", "{request}", $"{texts.FailureWhat} the kernel refused, plus reconciles and updates aborted by an error");
    }

    /// <summary>The backend's meter, for its own gauge.</summary>
    public Meter Meter { get; }

    /// <summary>The <c>instance</c> tag.</summary>
    public KeyValuePair<string, object?> Instance { get; }

    /// <summary>True once the network is gone: gauges report nothing.</summary>
    public bool IsDisposed => _disposed;

    public void Reconciled(ReconcileTrigger trigger, TimeSpan elapsed)
    {
        var tags = _triggerTags[(int)trigger];
        _reconciles.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
    }

    public void Healed(int what, int count)
    {
        if (count > 0)
        {
            _heals.Add(count, _healTags[what]);
        }
    }

    public void Failed(int count)
    {
        if (count > 0)
        {
            _failures.Add(count, _instance);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }
}
