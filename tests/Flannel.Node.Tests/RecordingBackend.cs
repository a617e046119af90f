using System.Collections.Concurrent;
using System.Net;

namespace Flannel.Node.Tests;

/// <summary>
/// A custom backend defined in the test assembly, as a host would write one: it acquires a lease, follows peer
/// leases through the subnet manager and records what it saw.
/// </summary>
internal sealed class RecordingBackendFactory(string type = "recording") : IBackendFactory, IBackendResources
{
    public int RegisterCalls;

    /// <summary>What this backend says it would hold: one "device" named after the VNI option.</summary>
    public IReadOnlyList<string> GetResources(NetworkConfig config, BackendContext context) =>
        config.Backend is { } b && b.TryGetProperty("VNI", out var vni) ? [$"link:rec.{vni.GetInt32()}"] : [];

    public BackendType Type { get; } = new(type);

    public ConcurrentQueue<LeaseEvent> PeerEvents { get; } = new();

    public TaskCompletionSource RunStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource RunEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int TeardownCalls;

    public Exception? FailRunWith { get; set; }

    /// <summary>Whether the network follows peer leases (false: it only waits, like a route-table backend).</summary>
    public bool Watch { get; set; } = true;

    /// <summary>The context of the last backend created (what the node handed it).</summary>
    public BackendContext? Context { get; private set; }

    public IBackend Create(BackendContext context)
    {
        Context = context;
        return new Backend(this, context);
    }

    private sealed class Backend(RecordingBackendFactory owner, BackendContext context) : IBackend
    {
        public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref owner.RegisterCalls);
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

                if (!owner.Watch)
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
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

internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("fln-node-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
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

/// <summary>A store whose watches fail the way a dead store connection does, after a given number of results.</summary>
internal sealed class FailingWatchManager(ISubnetManager inner, int resultsBeforeFailure) : ISubnetManager
{
    public ValueTask<NetworkConfig> GetNetworkConfigAsync(CancellationToken cancellationToken) => inner.GetNetworkConfigAsync(cancellationToken);

    public ValueTask<Lease> AcquireLeaseAsync(LeaseRequest request, CancellationToken cancellationToken) => inner.AcquireLeaseAsync(request, cancellationToken);

    public ValueTask<Lease> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken) => inner.RenewLeaseAsync(lease, cancellationToken);

    public ValueTask<bool> ReleaseLeaseAsync(Lease lease, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(lease, cancellationToken);

    public ValueTask<LeaseSnapshot> ListLeasesAsync(CancellationToken cancellationToken) => inner.ListLeasesAsync(cancellationToken);

    public async IAsyncEnumerable<LeaseWatchResult> WatchLeasesAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var n = 0;
        await foreach (var r in inner.WatchLeasesAsync(cancellationToken))
        {
            yield return r;
            if (++n >= resultsBeforeFailure)
            {
                throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionReset);
            }
        }
    }
}
