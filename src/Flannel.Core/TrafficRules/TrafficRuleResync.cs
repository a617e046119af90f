using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.TrafficRules;

/// <summary>
/// The resync loop shared by every <see cref="ITrafficManager"/>: calls <see cref="ITrafficManager.ResyncAsync"/> on
/// a period and logs what happened, with repeated failures and repairs reported at most once per
/// <see cref="ReportInterval"/> (each report carries the count since the previous one).
/// </summary>
/// <example>
/// <code>
/// // in a custom ITrafficManager:
/// public Task RunResyncAsync(CancellationToken ct) =>
///     TrafficRuleResync.RunAsync(this, TimeSpan.FromSeconds(5), logger, TimeProvider.System, ct);
/// </code>
/// </example>
public static class TrafficRuleResync
{
    /// <summary>The shortest time between two log lines about repeated failures (or repeated repairs).</summary>
    public static readonly TimeSpan ReportInterval = TimeSpan.FromMinutes(1);

    /// <summary>Runs <paramref name="manager"/>'s resync every <paramref name="period"/> until cancelled.</summary>
    /// <param name="manager">The manager to resync.</param>
    /// <param name="period">The time between two checks.</param>
    /// <param name="logger">The logger, or null.</param>
    /// <param name="timeProvider">The clock, or null for the system clock.</param>
    /// <param name="cancellationToken">Stops the loop.</param>
    /// <returns>A task that completes (successfully) when the loop has stopped; failures never fault it.</returns>
    public static async Task RunAsync(ITrafficManager manager, TimeSpan period, ILogger? logger, TimeProvider? timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        logger ??= NullLogger.Instance;
        timeProvider ??= TimeProvider.System;

        var failures = new Limiter();
        var repairs = new Limiter();
        using var timer = new PeriodicTimer(period, timeProvider);
        while (true)
        {
            try
            {
                if (!await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                var repaired = await manager.ResyncAsync(cancellationToken).ConfigureAwait(false);
                if (failures.Total > 0)
                {
                    TrafficRulesLog.ResyncRecovered(logger, failures.Total);
                    failures = new Limiter();
                }

                if (repaired && repairs.ShouldReport(timeProvider.GetUtcNow(), out var repairCount))
                {
                    TrafficRulesLog.ResyncRepaired(logger, repairCount);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (failures.ShouldReport(timeProvider.GetUtcNow(), out var failureCount))
                {
                    TrafficRulesLog.ResyncFailed(logger, failureCount, failures.Total, ex);
                }
            }
        }
    }

    /// <summary>Counts events and says when one may be reported: the first at once, then at most one per interval.</summary>
    private struct Limiter
    {
        private DateTimeOffset? _lastReport;
        private int _sinceReport;

        public int Total { get; private set; }

        public bool ShouldReport(DateTimeOffset now, out int sinceLastReport)
        {
            Total++;
            _sinceReport++;
            if (_lastReport is { } last && now - last < ReportInterval)
            {
                sinceLastReport = 0;
                return false;
            }

            sinceLastReport = _sinceReport;
            _sinceReport = 0;
            _lastReport = now;
            return true;
        }
    }
}
