using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using Xunit;

namespace Flannel.Leases.Tests;

internal static class L
{
    public static IPNetwork Net(string cidr) => IPNetwork.Parse(cidr);

    public static Lease Make(string subnet, string publicIp, string? ipv6Subnet = null, string? backendType = "host-gw") => new()
    {
        Subnet = Net(subnet),
        IPv6Subnet = ipv6Subnet is null ? null : Net(ipv6Subnet),
        Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse(publicIp), BackendType = backendType },
    };

    public static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}

/// <summary>Runs a registry watch in the background and keeps a replica of the leases it reports.</summary>
internal sealed class WatchRecorder : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _pump;
    private readonly Channel<LeaseWatchResult> _results = Channel.CreateUnbounded<LeaseWatchResult>();
    private readonly object _gate = new();
    private readonly Dictionary<(IPNetwork?, IPNetwork?), Lease> _state = [];
    private readonly List<LeaseWatchResult> _all = [];

    public WatchRecorder(ILeaseRegistry registry, LeaseSnapshot start)
    {
        foreach (var l in start.Leases)
        {
            _state[(l.Subnet, l.IPv6Subnet)] = l;
        }

        Revision = start.Revision;
        _pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var r in registry.WatchAsync(start.Revision, _cts.Token))
                {
                    Apply(r);
                    _results.Writer.TryWrite(r);
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested)
            {
            }
            finally
            {
                _results.Writer.TryComplete();
            }
        });
    }

    public long Revision { get; private set; }

    public IReadOnlyList<LeaseWatchResult> All
    {
        get
        {
            lock (_gate)
            {
                return _all.ToList();
            }
        }
    }

    public Dictionary<(IPNetwork?, IPNetwork?), Lease> State
    {
        get
        {
            lock (_gate)
            {
                return new(_state);
            }
        }
    }

    public IEnumerable<LeaseEvent> Events => All.SelectMany(r => r.Events);

    public Task Completion => _pump;

    /// <summary>Waits until <paramref name="condition"/> holds for the recorded results.</summary>
    public async Task WaitUntil(Func<WatchRecorder, bool> condition, string what, int seconds = 30)
    {
        var sw = Stopwatch.StartNew();
        while (!condition(this))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(seconds))
            {
                Assert.Fail($"timed out after {seconds} s waiting for {what}; saw {All.Count} results: " +
                    string.Join("; ", All.Select(r => r.IsSnapshot ? $"snapshot({r.Snapshot!.Count})@{r.Revision}" : string.Join(",", r.Events.Select(e => $"{e.Kind} {e.Lease.Subnet}")) + $"@{r.Revision}")));
            }

            await Task.Delay(20);
        }
    }

    private void Apply(LeaseWatchResult r)
    {
        lock (_gate)
        {
            _all.Add(r);
            if (r.Snapshot is { } snap)
            {
                _state.Clear();
                foreach (var l in snap)
                {
                    _state[(l.Subnet, l.IPv6Subnet)] = l;
                }
            }

            foreach (var e in r.Events)
            {
                var k = (e.Lease.Subnet, e.Lease.IPv6Subnet);
                if (e.Kind == LeaseEventKind.Added)
                {
                    _state[k] = e.Lease;
                }
                else
                {
                    _state.Remove(k);
                }
            }

            Revision = r.Revision;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            await _pump.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }

        _cts.Dispose();
    }
}
