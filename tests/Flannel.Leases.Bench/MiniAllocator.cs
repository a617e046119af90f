using System.Net;

namespace Flannel.Leases.Bench;

/// <summary>
/// The smallest "acquire" loop over an <see cref="ILeaseRegistry"/>: list, pick a random free subnet among the
/// lowest free ones, create-if-absent, retry when another node won the race. Used to hammer the stores' create
/// transaction from many agents; the real allocation policy is Flannel.Core's LeaseManager.
/// </summary>
internal static class MiniAllocator
{
    /// <summary>The first <paramref name="count"/> (at most 255) /24 subnets of 10.second.0.0/16 after the first one, as flannel skips it.</summary>
    public static IReadOnlyList<IPNetwork> Pool(int second, int count) =>
        Enumerable.Range(1, count).Select(i => new IPNetwork(new IPAddress([10, (byte)second, (byte)i, 0]), 24)).ToList();

    public static async Task<Lease> AcquireAsync(ILeaseRegistry registry, IReadOnlyList<IPNetwork> pool, IPAddress publicIp, TimeSpan? ttl, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var snap = await registry.ListAsync(ct).ConfigureAwait(false);
            var taken = snap.Leases.Where(l => l.Subnet is not null).Select(l => l.Subnet!.Value).ToHashSet();
            var free = pool.Where(s => !taken.Contains(s)).Take(100).ToList();
            if (free.Count == 0)
            {
                throw new FlannelException("out of subnets");
            }

            var pick = free[Random.Shared.Next(free.Count)];
            var lease = new Lease { Subnet = pick, Attributes = new LeaseAttributes { PublicIP = publicIp, BackendType = "host-gw" } };
            if (await registry.CreateAsync(lease, ttl, ct).ConfigureAwait(false) is { } created)
            {
                return created;
            }
        }

        throw new FlannelException("gave up after 1000 lost races");
    }
}
