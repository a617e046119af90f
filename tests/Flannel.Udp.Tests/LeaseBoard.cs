using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Flannel.Udp.Tests;

/// <summary>
/// A small in-memory lease store shared by the simulated hosts of a test (Core's registry had not landed when these
/// tests were written): a node with public IP a.b.c.N gets 10.244.N.0/24; watchers get a snapshot, then events.
/// </summary>
internal sealed class LeaseBoard
{
    private readonly Lock _gate = new();
    private readonly Dictionary<IPNetwork, Lease> _leases = [];
    private readonly List<Channel<LeaseWatchResult>> _watchers = [];
    private long _revision;

    public NetworkConfig Config { get; } = new() { Network = IPNetwork.Parse("10.244.0.0/16"), SubnetLen = 24, BackendType = BackendType.Udp };

    public Lease Put(IPNetwork subnet, IPAddress publicIP)
    {
        lock (_gate)
        {
            var lease = new Lease { Subnet = subnet, Attributes = new LeaseAttributes { PublicIP = publicIP }, Revision = ++_revision, Expiration = DateTimeOffset.UtcNow.AddHours(24) };
            _leases[subnet] = lease;
            Broadcast(new LeaseEvent(LeaseEventKind.Added, lease));
            return lease;
        }
    }

    public bool Remove(IPNetwork subnet)
    {
        lock (_gate)
        {
            if (!_leases.Remove(subnet, out var lease))
            {
                return false;
            }

            ++_revision;
            Broadcast(new LeaseEvent(LeaseEventKind.Removed, lease));
            return true;
        }
    }

    public ISubnetManager ManagerFor() => new Manager(this);

    private void Broadcast(LeaseEvent e)
    {
        var step = new LeaseWatchResult { Events = [e], Revision = _revision };
        foreach (var w in _watchers)
        {
            w.Writer.TryWrite(step);
        }
    }

    private async IAsyncEnumerable<LeaseWatchResult> WatchAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var ch = Channel.CreateUnbounded<LeaseWatchResult>();
        lock (_gate)
        {
            ch.Writer.TryWrite(new LeaseWatchResult { Snapshot = _leases.Values.ToList(), Revision = _revision });
            _watchers.Add(ch);
        }

        try
        {
            await foreach (var step in ch.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                yield return step;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(ch);
            }
        }
    }

    private sealed class Manager(LeaseBoard board) : ISubnetManager
    {
        public ValueTask<NetworkConfig> GetNetworkConfigAsync(CancellationToken cancellationToken) => ValueTask.FromResult(board.Config);

        public ValueTask<Lease> AcquireLeaseAsync(LeaseRequest request, CancellationToken cancellationToken)
        {
            var ip = request.Attributes.PublicIP ?? throw new ArgumentException("no PublicIP");
            var subnet = new IPNetwork(IPAddress.Parse($"10.244.{ip.GetAddressBytes()[3]}.0"), 24);
            return ValueTask.FromResult(board.Put(subnet, ip));
        }

        public ValueTask<Lease> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken) => ValueTask.FromResult(lease);

        public ValueTask<bool> ReleaseLeaseAsync(Lease lease, CancellationToken cancellationToken) => ValueTask.FromResult(board.Remove(lease.Subnet!.Value));

        public ValueTask<LeaseSnapshot> ListLeasesAsync(CancellationToken cancellationToken)
        {
            lock (board._gate)
            {
                return ValueTask.FromResult(new LeaseSnapshot(board._leases.Values.ToList(), board._revision));
            }
        }

        public IAsyncEnumerable<LeaseWatchResult> WatchLeasesAsync(CancellationToken cancellationToken) => board.WatchAsync(cancellationToken);
    }
}
