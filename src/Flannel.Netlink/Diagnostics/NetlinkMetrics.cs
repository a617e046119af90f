using System.Diagnostics.Metrics;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink.Diagnostics;

/// <summary>
/// The <c>Flannel.Netlink</c> meter's instruments, created only when <see cref="RtnetlinkClientOptions.MeterFactory"/> is
/// set: every client of one factory shares them (the meter returns the same counter for the same name), so short-lived
/// clients add to one set of series. The only tag is <c>op</c>, the request's message type (<c>RTM_NEWROUTE</c>, …):
/// a fixed set, no addresses, no errno. The tag of each type is built once, so counting allocates nothing.
/// </summary>
internal sealed class NetlinkMetrics
{
    public const string MeterName = "Flannel.Netlink";

    private const int TypeCount = 128;

    // Immutable: the op tag of every message type below TypeCount (the rtnetlink types end near 120).
    private static readonly KeyValuePair<string, object?>[] OpTags = BuildTags();

    private readonly Counter<long> _requests;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _dumps;
    private readonly Counter<long> _dumpRetries;
    private readonly Counter<long> _monitorResyncs;

    private NetlinkMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _requests = meter.CreateCounter<long>("flannel.netlink.requests", "{request}", "Requests sent to the kernel (single, batched and dumps), by message type");
        _failures = meter.CreateCounter<long>("flannel.netlink.failures", "{request}", "Requests the kernel refused with an error (not counting 'no such object' answers to gets and deletes), by message type");
        _dumps = meter.CreateCounter<long>("flannel.netlink.dumps", "{dump}", "Dumps run to completion, by message type");
        _dumpRetries = meter.CreateCounter<long>("flannel.netlink.dump_retries", "{dump}", "Dumps restarted because concurrent changes interrupted them (NLM_F_DUMP_INTR), by message type");
        _monitorResyncs = meter.CreateCounter<long>("flannel.netlink.monitor_resyncs", "{resync}", "Monitor overflows (ENOBUFS, NLMSG_OVERRUN) reported to watchers as a resync");
    }

    public static NetlinkMetrics? Create(IMeterFactory? factory) => factory is null ? null : new NetlinkMetrics(factory);

    public void Request(ushort type) => _requests.Add(1, Op(type));

    public void Requests(ushort type, int count) => _requests.Add(count, Op(type));

    /// <summary>Counts a failed request; returns false, so it can run in an exception filter without catching.</summary>
    public bool Failed(ushort type)
    {
        _failures.Add(1, Op(type));
        return false;
    }

    public void Failures(ushort type, int count) => _failures.Add(count, Op(type));

    public void Dumped(ushort type) => _dumps.Add(1, Op(type));

    public void DumpRetried(ushort type) => _dumpRetries.Add(1, Op(type));

    public void MonitorResync() => _monitorResyncs.Add(1);

    private static KeyValuePair<string, object?> Op(ushort type) => type < TypeCount ? OpTags[type] : new("op", Nl.TypeName(type));

    private static KeyValuePair<string, object?>[] BuildTags()
    {
        var tags = new KeyValuePair<string, object?>[TypeCount];
        for (var t = 0; t < TypeCount; t++)
        {
            tags[t] = new KeyValuePair<string, object?>("op", Nl.TypeName((ushort)t));
        }

        return tags;
    }
}
