using System.Diagnostics.Metrics;

namespace Flannel.Internal;

/// <summary>The lease manager's instruments on the <c>Flannel.Core</c> meter; all no-ops without a meter factory.</summary>
internal sealed class LeaseMetrics
{
    public const string MeterName = "Flannel.Core";

    private readonly Counter<long>? _acquisitions;
    private readonly Counter<long>? _races;
    private readonly Counter<long>? _renewals;
    private readonly Counter<long>? _releases;

    public LeaseMetrics(IMeterFactory? factory)
    {
        if (factory is null)
        {
            return;
        }

        Meter = factory.Create(MeterName);
        _acquisitions = Meter.CreateCounter<long>("flannel.lease.acquisitions", "{lease}", "Leases acquired, by source: public-ip (reused), previous (subnet.env) or new.");
        _races = Meter.CreateCounter<long>("flannel.lease.races", "{race}", "Lease creations lost to another node and retried.");
        _renewals = Meter.CreateCounter<long>("flannel.lease.renewals", "{lease}", "Lease renewals.");
        _releases = Meter.CreateCounter<long>("flannel.lease.releases", "{lease}", "Leases released.");
    }

    public Meter? Meter { get; }

    public void Acquired(string source) => _acquisitions?.Add(1, new KeyValuePair<string, object?>("source", source));

    public void RaceLost() => _races?.Add(1);

    public void Renewed() => _renewals?.Add(1);

    public void Released() => _releases?.Add(1);
}
