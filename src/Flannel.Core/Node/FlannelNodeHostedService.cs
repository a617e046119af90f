using Microsoft.Extensions.Hosting;

namespace Flannel.Node;

/// <summary>
/// Runs a <see cref="FlannelNode"/> inside the Generic Host. The host's start (and so systemd's READY=1 and any
/// readiness the host reports) completes only after the node is <see cref="FlannelNode.Ready"/>; a node fault
/// stops the host when <see cref="StopHostOnFault"/> is set. Stopping the host stops the node and keeps the data path.
/// </summary>
public sealed class FlannelNodeHostedService : IHostedService
{
    private readonly FlannelNode _node;
    private readonly IHostApplicationLifetime? _lifetime;

    /// <summary>Creates the service.</summary>
    /// <param name="node">The node to run.</param>
    /// <param name="lifetime">The host lifetime, used to stop the host when the node faults; null to never stop it.</param>
    public FlannelNodeHostedService(FlannelNode node, IHostApplicationLifetime? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        _node = node;
        _lifetime = lifetime;
    }

    /// <summary>The node this service runs.</summary>
    public FlannelNode Node => _node;

    /// <summary>Stop the whole host when the node faults after start (default true).</summary>
    public bool StopHostOnFault { get; init; } = true;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _node.StartAsync(cancellationToken).ConfigureAwait(false);
        if (_lifetime is { } lifetime && StopHostOnFault)
        {
            _ = _node.Completion.ContinueWith(
                static (t, state) => ((IHostApplicationLifetime)state!).StopApplication(),
                lifetime,
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => _node.StopAsync(cancellationToken);
}
