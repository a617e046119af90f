using System.Diagnostics.Metrics;

namespace Flannel.TrafficRules;

/// <summary>
/// The traffic-rule engines' instruments on the <c>Flannel.Core</c> meter (<see cref="TrafficRuleOptions.MeterFactory"/>'s
/// when given, else a private one): <c>flannel.rules.resyncs</c>, <c>flannel.rules.repairs</c> and
/// <c>flannel.rules.failures</c>, each tagged <c>engine</c> (<c>iptables</c>/<c>nftables</c>) and <c>family</c>
/// (<c>ipv4</c>/<c>ipv6</c>). The tag arrays are built once, so recording allocates nothing.
/// </summary>
internal sealed class TrafficRuleMetrics
{
    public const string MeterName = "Flannel.Core";

    private readonly Counter<long> _resyncs;
    private readonly Counter<long> _repairs;
    private readonly Counter<long> _failures;
    private readonly KeyValuePair<string, object?>[][] _tags;

    public TrafficRuleMetrics(IMeterFactory? factory, string engine)
    {
        var meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        var e = new KeyValuePair<string, object?>("engine", engine);
        _tags =
        [
            [e, new("family", "ipv4")],
            [e, new("family", "ipv6")],
        ];
        _resyncs = meter.CreateCounter<long>("flannel.rules.resyncs", "{check}", "Completed resync checks of one family's rules (read back and compared with what is wanted)");
        _repairs = meter.CreateCounter<long>("flannel.rules.repairs", "{repair}", "Resync checks that found a family's rules missing or changed and put them back");
        _failures = meter.CreateCounter<long>("flannel.rules.failures", "{operation}", "Ensures and resyncs of one family that failed (a tool could not run, exited non-zero or timed out)");
    }

    public void Resynced(IpFamily family, bool repaired)
    {
        _resyncs.Add(1, _tags[(int)family]);
        if (repaired)
        {
            _repairs.Add(1, _tags[(int)family]);
        }
    }

    public void Failed(IpFamily family) => _failures.Add(1, _tags[(int)family]);
}
