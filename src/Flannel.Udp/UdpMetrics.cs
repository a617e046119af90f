using System.Diagnostics.Metrics;

namespace Flannel.Udp;

/// <summary>
/// The <c>Flannel.Udp</c> meter: observable counters over the data path's own counters, so the hot path pays nothing
/// per packet. Instruments: <c>flannel.udp.packets</c> and <c>flannel.udp.bytes</c> (tag <c>direction</c> =
/// <c>egress</c> (TUN → peer) or <c>ingress</c> (peer → TUN)), <c>flannel.udp.drops</c> (tags <c>reason</c>,
/// <c>direction</c>), <c>flannel.udp.icmp_unreachable</c>, and the gauge <c>flannel.udp.peers</c> (peer subnets in the
/// forwarder's current routing table: what the data path will actually forward to).
/// </summary>
internal sealed class UdpMetrics : IDisposable
{
    public const string MeterName = "Flannel.Udp";
    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public UdpMetrics(IMeterFactory? factory, DataPathCounters counters, Func<int> peers, string instance)
    {
        var tags = new KeyValuePair<string, object?>[] { new("instance", instance) };
        if (factory is not null)
        {
            _meter = factory.Create(new MeterOptions(MeterName) { Tags = tags });
        }
        else
        {
            _meter = new Meter(new MeterOptions(MeterName) { Tags = tags });
            _ownsMeter = true;
        }

        _meter.CreateObservableCounter("flannel.udp.packets", () => new[]
        {
            new Measurement<long>(Volatile.Read(ref counters.EgressPackets), new KeyValuePair<string, object?>("direction", "egress")),
            new Measurement<long>(Volatile.Read(ref counters.IngressPackets), new KeyValuePair<string, object?>("direction", "ingress")),
        }, "{packet}", "Inner IPv4 packets forwarded");
        _meter.CreateObservableCounter("flannel.udp.bytes", () => new[]
        {
            new Measurement<long>(Volatile.Read(ref counters.EgressBytes), new KeyValuePair<string, object?>("direction", "egress")),
            new Measurement<long>(Volatile.Read(ref counters.IngressBytes), new KeyValuePair<string, object?>("direction", "ingress")),
        }, "By", "Inner IPv4 bytes forwarded");
        _meter.CreateObservableCounter("flannel.udp.drops", () => Drops(counters), "{packet}", "Packets dropped, by reason and direction");
        _meter.CreateObservableCounter("flannel.udp.icmp_unreachable", () => Volatile.Read(ref counters.IcmpSent), "{packet}", "ICMP net-unreachable replies written to the TUN");
        _meter.CreateObservableGauge("flannel.udp.peers", peers, "{peer}", "Peer subnets in the forwarder's routing table");
    }

    private static IEnumerable<Measurement<long>> Drops(DataPathCounters c)
    {
        for (int i = 0; i < DropReasons.Count; i++)
        {
            var reason = new KeyValuePair<string, object?>("reason", DropReasons.Tag((DropReason)i));
            yield return new Measurement<long>(Volatile.Read(ref c.EgressDrops[i]), reason, new KeyValuePair<string, object?>("direction", "egress"));
            yield return new Measurement<long>(Volatile.Read(ref c.IngressDrops[i]), reason, new KeyValuePair<string, object?>("direction", "ingress"));
        }
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
