using System.Collections.Concurrent;
using System.Net;

namespace Flannel.Node.Tests;

/// <summary>
/// A custom backend defined in the test assembly, as a host would write one: it acquires a lease, follows peer
/// leases through the subnet manager and records what it saw.
/// </summary>
internal sealed class RecordingBackendFactory(string type = "recording") : IBackendFactory
{
    public BackendType Type { get; } = new(type);

    public ConcurrentQueue<LeaseEvent> PeerEvents { get; } = new();

    public TaskCompletionSource RunStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource RunEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int TeardownCalls;

    public Exception? FailRunWith { get; set; }

    public IBackend Create(BackendContext context) => new Backend(this, context);

    private sealed class Backend(RecordingBackendFactory owner, BackendContext context) : IBackend
    {
        public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
        {
            var lease = await context.SubnetManager.AcquireLeaseAsync(
                new LeaseRequest(new LeaseAttributes { PublicIP = context.Interface.PublicIP, BackendType = owner.Type.Value })
                {
                    PreviousSubnet = context.PreviousSubnet,
                },
                cancellationToken);
            return new Network(owner, context, lease);
        }
    }

    private sealed class Network(RecordingBackendFactory owner, BackendContext context, Lease lease) : INetwork
    {
        public Lease Lease => lease;

        public int Mtu => context.Interface.Mtu;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            owner.RunStarted.TrySetResult();
            try
            {
                if (owner.FailRunWith is { } error)
                {
                    await Task.Delay(50, cancellationToken);
                    throw error;
                }

                await foreach (var step in context.SubnetManager.WatchLeasesAsync(cancellationToken))
                {
                    var events = step.Snapshot is { } snap
                        ? snap.Select(l => new LeaseEvent(LeaseEventKind.Added, l))
                        : step.Events;
                    foreach (var e in events)
                    {
                        if (e.Lease.Subnet != lease.Subnet)
                        {
                            owner.PeerEvents.Enqueue(e);
                        }
                    }
                }
            }
            finally
            {
                owner.RunEnded.TrySetResult();
            }
        }

        public ValueTask TeardownAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref owner.TeardownCalls);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

internal sealed class MemoryStateStore : ILeaseStateStore
{
    public PreviousLeaseState? State { get; set; }

    public ValueTask<PreviousLeaseState?> LoadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(State);

    public ValueTask SaveAsync(PreviousLeaseState state, CancellationToken cancellationToken)
    {
        State = state;
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> DeleteAsync(CancellationToken cancellationToken)
    {
        var had = State is not null;
        State = null;
        return ValueTask.FromResult(had);
    }
}

internal static class Fixtures
{
    public static NetworkConfig Config(string type = "recording") => new()
    {
        Network = IPNetwork.Parse("10.244.0.0/16"),
        BackendType = new BackendType(type),
    };

    public static ExternalInterface Interface(string ip) => new()
    {
        Name = "eth0",
        Index = 2,
        Mtu = 1500,
        Address = IPAddress.Parse(ip),
        PublicIP = IPAddress.Parse(ip),
    };

    public static FlannelNodeOptions Options(string ip, string name = "test", string type = "recording") => new()
    {
        InstanceName = name,
        NetworkConfig = Config(type),
        Interface = new InterfaceSelection { Explicit = Interface(ip) },
    };
}
