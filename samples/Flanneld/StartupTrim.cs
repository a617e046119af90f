using Flannel.Node;
using Microsoft.Extensions.Logging;

namespace Flanneld;

/// <summary>
/// Gives the start-up garbage back once the node is first ready. Start-up allocates several megabytes that die at
/// once (the first lease snapshot decoded, planned and programmed in batches); collections that fall into it promote
/// part of it and leave the heap spread over regions that stay committed. Two seconds after the first Ready, one
/// blocking, compacting, aggressive collection packs what lives (a few MB with 1,000 peers) and decommits the rest;
/// from then on the steady state only cycles the small gen0 budget. Measured in docs/performance.md ("The daemon").
/// </summary>
internal sealed class StartupTrim : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private readonly FlannelNode _node;
    private readonly ILogger _log;
    private readonly CancellationToken _ct;
    private int _done;

    public StartupTrim(FlannelNode node, ILogger log, CancellationToken ct)
    {
        _node = node;
        _log = log;
        _ct = ct;
        node.EventRaised += OnEvent;
    }

    public void Dispose() => _node.EventRaised -= OnEvent;

    private void OnEvent(object? sender, NodeEvent e)
    {
        if (_node.State == NodeState.Ready && Interlocked.Exchange(ref _done, 1) == 0)
        {
            _node.EventRaised -= OnEvent;
            _ = TrimAsync();
        }
    }

    private async Task TrimAsync()
    {
        try
        {
            await Task.Delay(Settle, _ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var before = GC.GetGCMemoryInfo().TotalCommittedBytes;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Daemon.LogTrimmed(_log, before, GC.GetGCMemoryInfo().TotalCommittedBytes);
    }
}
