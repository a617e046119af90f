using System.Net;
using CsCheck;
using Flannel.Internal;
using Xunit;

namespace Flannel.Core.Tests;

/// <summary>
/// The indexed peer cache against a plain model of flannel's semantics (a list searched by each cached lease's
/// families), over random snapshots and events that mix IPv4-only, IPv6-only and dual-stack leases.
/// </summary>
public class PeerLeaseCacheTests
{
    private static readonly IPNetwork?[] V4 = [null, IPNetwork.Parse("10.5.1.0/24"), IPNetwork.Parse("10.5.2.0/24"), IPNetwork.Parse("10.5.3.0/24")];
    private static readonly IPNetwork?[] V6 = [null, IPNetwork.Parse("fc00:0:0:1::/64"), IPNetwork.Parse("fc00:0:0:2::/64")];
    private static readonly IPAddress[] Ips = [IPAddress.Parse("198.18.0.1"), IPAddress.Parse("198.18.0.2")];

    private static readonly Gen<Lease> GenLease =
        Gen.Select(Gen.Int[0, V4.Length - 1], Gen.Int[0, V6.Length - 1], Gen.Int[0, Ips.Length - 1], Gen.Bool, (a, b, ip, uniform) =>
        {
            // Mostly IPv4-only leases (a uniform cluster), sometimes any shape, rarely none (never matched by flannel).
            var v4 = V4[a == 0 && uniform ? 1 : a];
            var v6 = uniform ? null : V6[b];
            var none = !uniform && a == 0 && b == 0 && ip == 1;
            return new Lease { Subnet = v4 ?? (v6 is null && !none ? V4[1] : null), IPv6Subnet = v6, Attributes = new LeaseAttributes { PublicIP = Ips[ip] } };
        });

    private static readonly Gen<object> GenStep = Gen.Frequency(
        (1, GenLease.Array[0, 6].Select(object (leases) => leases)),
        (3, Gen.Select(Gen.Bool, GenLease, (added, lease) => new LeaseEvent(added ? LeaseEventKind.Added : LeaseEventKind.Removed, lease)).Array[1, 4].Select(object (events) => events)));

    [Fact]
    public void Matches_the_list_model_on_random_histories()
    {
        Gen.Select(GenLease, Gen.Bool, GenStep.Array[1, 12]).Sample((ownLease, hasOwn, steps) =>
        {
            var own = hasOwn ? ownLease : null;
            var cache = new PeerLeaseCache(own);
            var model = new ListModel(own);
            foreach (var step in steps)
            {
                var (got, want) = step is Lease[] snapshot
                    ? (cache.Reset(snapshot), model.Reset(snapshot))
                    : (cache.Apply((LeaseEvent[])step), model.Apply((LeaseEvent[])step));
                Assert.Equal(Describe(want), Describe(got));
                Assert.Equal(model.Leases.Select(Describe), cache.Leases.Select(Describe));
            }
        }, iter: 3000);
    }

    [Fact]
    public void A_thousand_peer_snapshot_diffs_in_linear_time()
    {
        var leases = Enumerable.Range(0, 5000)
            .Select(i => new Lease { Subnet = new IPNetwork(new IPAddress([10, (byte)(i >> 8), (byte)i, 0]), 24), Attributes = new LeaseAttributes { PublicIP = Ips[0] } })
            .ToList();
        var cache = new PeerLeaseCache(leases[0]);
        Assert.Equal(4999, cache.Reset(leases).Count);
        Assert.Empty(cache.Reset(leases)); // nothing changed: no events
        var moved = leases.Select((l, i) => i % 2 == 0 ? l : l with { Attributes = new LeaseAttributes { PublicIP = Ips[1] } }).ToList();
        Assert.Equal(2500, cache.Reset(moved).Count);
        Assert.Equal(4999, cache.Leases.Count);
    }

    private static string Describe(IEnumerable<LeaseEvent> events) => string.Join("; ", events.Select(e => $"{e.Kind} {Describe(e.Lease)}"));

    private static string Describe(Lease l) => $"{l.Subnet}&{l.IPv6Subnet}@{l.Attributes.PublicIP}";

    /// <summary>flannel's leaseWatcher semantics, the obvious way: a list searched in order.</summary>
    private sealed class ListModel(Lease? own)
    {
        public List<Lease> Leases { get; } = [];

        public List<LeaseEvent> Reset(IEnumerable<Lease> snapshot)
        {
            var batch = new List<LeaseEvent>();
            var next = new List<Lease>();
            foreach (var lease in snapshot)
            {
                if ((own is not null && PeerLeaseCache.SameSubnets(own, lease)) || next.Exists(l => PeerLeaseCache.SameSubnets(l, lease)))
                {
                    continue;
                }

                next.Add(lease);
                var index = Leases.FindIndex(l => PeerLeaseCache.SameSubnets(l, lease));
                if (index < 0 || !PeerLeaseCache.SameContent(Leases[index], lease))
                {
                    batch.Add(new LeaseEvent(LeaseEventKind.Added, lease));
                }
            }

            batch.AddRange(Leases.Where(old => !next.Exists(l => PeerLeaseCache.SameSubnets(old, l))).Select(old => new LeaseEvent(LeaseEventKind.Removed, old)));
            Leases.Clear();
            Leases.AddRange(next);
            return batch;
        }

        public List<LeaseEvent> Apply(IEnumerable<LeaseEvent> events)
        {
            var batch = new List<LeaseEvent>();
            foreach (var e in events)
            {
                if (own is not null && PeerLeaseCache.SameSubnets(own, e.Lease))
                {
                    continue;
                }

                var index = Leases.FindIndex(l => PeerLeaseCache.SameSubnets(l, e.Lease));
                if (e.Kind == LeaseEventKind.Added)
                {
                    if (index < 0)
                    {
                        Leases.Add(e.Lease);
                        batch.Add(e);
                    }
                    else
                    {
                        var changed = !PeerLeaseCache.SameContent(Leases[index], e.Lease);
                        Leases[index] = e.Lease;
                        if (changed)
                        {
                            batch.Add(e);
                        }
                    }
                }
                else if (index >= 0)
                {
                    batch.Add(new LeaseEvent(LeaseEventKind.Removed, Leases[index]));
                    Leases.RemoveAt(index);
                }
                else
                {
                    batch.Add(e);
                }
            }

            return batch;
        }
    }
}
