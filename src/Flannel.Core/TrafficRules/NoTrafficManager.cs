using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.TrafficRules;

/// <summary>
/// <see cref="TrafficRuleEngine.None"/>: installs, checks and removes nothing, and runs no tool. For hosts whose own
/// firewall or CNI chain does the NAT and forwarding (the arguments are still validated).
/// </summary>
/// <example>
/// <code>
/// ITrafficManager rules = new NoTrafficManager(new TrafficRuleOptions { Engine = TrafficRuleEngine.None });
/// </code>
/// </example>
public sealed class NoTrafficManager : ITrafficManager
{
    private readonly ILogger _logger;

    /// <summary>Creates the manager.</summary>
    /// <param name="options">The options (only validated).</param>
    /// <param name="loggerFactory">The logger factory, or null.</param>
    /// <param name="timeProvider">Unused; accepted for symmetry with the other managers.</param>
    public NoTrafficManager(TrafficRuleOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _ = timeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Flannel.TrafficRules");
    }

    /// <inheritdoc />
    public ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TrafficRulesLog.EngineNone(_logger);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask EnsureMasqueradeRulesAsync(TrafficNetworks current, TrafficNetworks? previous, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(current);
        current.Validate(nameof(current), requireSubnet: true);
        previous?.Validate(nameof(previous), requireSubnet: false);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask EnsureForwardRulesAsync(TrafficNetworks networks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(networks);
        networks.Validate(nameof(networks), requireSubnet: false);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> ResyncAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(false);
    }

    /// <inheritdoc />
    public ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>Nothing to check: the task just waits for <paramref name="cancellationToken"/>.</remarks>
    public async Task RunResyncAsync(CancellationToken cancellationToken)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (cancellationToken.Register(() => stopped.TrySetResult()).ConfigureAwait(false))
        {
            await stopped.Task.ConfigureAwait(false);
        }
    }
}
