using System.Threading.Channels;

namespace Flannel.Cloud.Tests.Infrastructure;

/// <summary>One report a network made to its <see cref="IDataPathMonitor"/>: a problem (with its cause) or health.</summary>
public sealed record DataPathReport(string? Problem, Exception? Cause)
{
    public bool Healthy => Problem is null;
}

/// <summary>Records what a network reports about its data path, in order, for a test to await.</summary>
public sealed class RecordingDataPathMonitor : IDataPathMonitor
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly Channel<DataPathReport> _reports = Channel.CreateUnbounded<DataPathReport>();

    public void ReportProblem(string problem, Exception? cause) => _reports.Writer.TryWrite(new DataPathReport(problem, cause));

    public void ReportHealthy() => _reports.Writer.TryWrite(new DataPathReport(null, null));

    /// <summary>The next problem reported (health reports before it are skipped), within a bounded wait.</summary>
    public Task<DataPathReport> NextProblemAsync() => NextAsync(r => !r.Healthy, "a problem");

    /// <summary>The next health report (problem reports before it are skipped), within a bounded wait.</summary>
    public Task<DataPathReport> NextHealthyAsync() => NextAsync(r => r.Healthy, "a health report");

    private async Task<DataPathReport> NextAsync(Func<DataPathReport, bool> match, string what)
    {
        using var timeout = new CancellationTokenSource(Wait);
        try
        {
            while (true)
            {
                var report = await _reports.Reader.ReadAsync(timeout.Token);
                if (match(report))
                {
                    return report;
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"no {what} reported within {Wait}");
        }
    }
}
