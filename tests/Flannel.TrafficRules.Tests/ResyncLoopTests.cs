using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>The resync loop's bounded logging, driven by a fake clock (no tool can run: the paths point nowhere).</summary>
public class ResyncLoopTests
{
    [Fact]
    public async Task RepeatedFailuresLogAtMostOneLinePerMinute()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider();
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)).SetMinimumLevel(LogLevel.Debug));

        // A real manager whose tools cannot be found: every resync fails the way a broken host fails.
        var options = new TrafficRuleOptions { NsenterPath = "/nonexistent/nsenter", NetworkNamespacePath = "/nonexistent/netns" };
        var real = new IptablesTrafficManager(options, loggerFactory, time);
        await Assert.ThrowsAsync<TrafficRuleException>(async () => await real.EnsureForwardRulesAsync(new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16") }, ct));
        var counted = new CountingManager(real);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var loop = TrafficRuleResync.RunAsync(counted, TimeSpan.FromSeconds(5), loggerFactory.CreateLogger("resync"), time, stop.Token);
        for (var i = 1; i <= 30; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            Assert.True(await counted.Calls.WaitAsync(TimeSpan.FromSeconds(30), ct), $"resync {i} did not run");
        }

        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.True(loop.IsCompletedSuccessfully);

        // 30 failures over 150 s: the first is reported at once, then one line per minute carries the count (the
        // clock may move on before the loop reads it, so which failure opens the next minute can shift by one).
        var failures = collector.GetSnapshot().Where(r => r.Id.Id == 1611).ToList();
        Assert.Equal(3, failures.Count);
        Assert.All(failures, r => Assert.IsType<TrafficRuleException>(r.Exception));
        Assert.All(failures, r => Assert.Equal(LogLevel.Error, r.Level));
        Assert.Contains("(1 failure(s) since the last report, 1 in a row)", failures[0].Message, StringComparison.Ordinal);
        Assert.Matches(@"\((11|12|13) failure\(s\) since the last report, (12|13|14) in a row\)", failures[1].Message);
    }

    /// <summary>Forwards to a real manager and signals each finished resync, so the test can pace the fake clock.</summary>
    private sealed class CountingManager(ITrafficManager inner) : ITrafficManager
    {
        public SemaphoreSlim Calls { get; } = new(0);

        public ValueTask InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public ValueTask EnsureMasqueradeRulesAsync(TrafficNetworks current, TrafficNetworks? previous, CancellationToken cancellationToken) =>
            inner.EnsureMasqueradeRulesAsync(current, previous, cancellationToken);

        public ValueTask EnsureForwardRulesAsync(TrafficNetworks networks, CancellationToken cancellationToken) => inner.EnsureForwardRulesAsync(networks, cancellationToken);

        public async ValueTask<bool> ResyncAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await inner.ResyncAsync(cancellationToken);
            }
            finally
            {
                Calls.Release();
            }
        }

        public ValueTask TeardownAsync(CancellationToken cancellationToken) => inner.TeardownAsync(cancellationToken);

        public Task RunResyncAsync(CancellationToken cancellationToken) => inner.RunResyncAsync(cancellationToken);
    }
}
