using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Node.Tests;

/// <summary>
/// How the node turns its backend's data-path reports (<see cref="BackendContext.DataPath"/>) into events, state and
/// logs: one event when the data path turns degraded and one when it is restored, the current problem readable
/// meanwhile, the node Ready throughout, and nothing after stop.
/// </summary>
public sealed class DataPathReportTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReportsBecomeOneDegradedAndOneRestoredEventAndTheNodeStaysReady()
    {
        var ct = TestContext.Current.CancellationToken;
        var collector = new FakeLogCollector();
        using var logs = new LoggerFactory([new FakeLoggerProvider(collector)]);
        var manager = new LeaseManager(new InMemoryLeaseRegistry(), new LeaseManagerOptions { NetworkConfig = Fixtures.Config() });
        var backend = new RecordingBackendFactory();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [backend], LoggerFactory = logs });
        var events = node.WatchEventsAsync(ct).GetAsyncEnumerator(ct);
        await node.StartAsync(ct).WaitAsync(Wait, ct);
        var monitor = Assert.IsAssignableFrom<IDataPathMonitor>(backend.Context!.DataPath);

        // Healthy reports while healthy, and repeated problems, raise nothing new.
        monitor.ReportHealthy();
        var refused = new SocketException((int)SocketError.NetworkUnreachable);
        monitor.ReportProblem("1 of 2 peer route(s) could not be programmed; first: 10.244.7.0/24 via 198.18.0.7 dev eth0: Network is unreachable", refused);
        monitor.ReportProblem("2 of 2 peer route(s) could not be programmed; first: 10.244.7.0/24 via 198.18.0.7 dev eth0: Network is unreachable", refused);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);
        Assert.StartsWith("2 of 2 peer route(s)", node.DataPathProblem, StringComparison.Ordinal);
        monitor.ReportHealthy();
        monitor.ReportHealthy();
        Assert.Null(node.DataPathProblem);

        var seen = new List<NodeEvent>();
        while (seen.Count(e => e.Kind is NodeEventKind.DataPathDegraded or NodeEventKind.DataPathRestored) < 2)
        {
            Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Wait, ct));
            seen.Add(events.Current);
        }

        var health = seen.Where(e => e.Kind is NodeEventKind.DataPathDegraded or NodeEventKind.DataPathRestored).ToList();
        Assert.Equal([NodeEventKind.DataPathDegraded, NodeEventKind.DataPathRestored], health.Select(e => e.Kind));
        var error = Assert.IsType<BackendUnavailableException>(health[0].Error);
        Assert.Equal("data path degraded: 1 of 2 peer route(s) could not be programmed; first: 10.244.7.0/24 via 198.18.0.7 dev eth0: Network is unreachable", error.Message);
        Assert.Same(refused, error.InnerException);
        Assert.All(health, e => Assert.Equal(NodeState.Ready, e.State));
        Assert.All(health, e => Assert.Equal(node.CurrentLease, e.Lease));
        Assert.Null(health[1].Error);

        var degraded = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 7016);
        Assert.Equal(LogLevel.Warning, degraded.Level);
        Assert.Contains("10.244.7.0/24 via 198.18.0.7", degraded.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Information, Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 7017).Level);

        // A report that arrives after stop (a backend loop winding down) changes nothing.
        await node.StopAsync(ct).WaitAsync(Wait, ct);
        monitor.ReportProblem("late", null);
        Assert.Null(node.DataPathProblem);
        Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 7016);
        await events.DisposeAsync();
    }
}
