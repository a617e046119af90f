namespace Flannel;

/// <summary>
/// Where a running network reports the health of its data path (<see cref="BackendContext.DataPath"/>): a problem
/// it cannot repair right now (the kernel refuses a peer's route, a device cannot be set up, a reconcile fails) and
/// the end of it. The node turns the reports into events (<c>DataPathDegraded</c>, <c>DataPathRestored</c>) and keeps
/// the current problem readable; a backend never fails its <see cref="INetwork.RunAsync"/> for a problem it keeps
/// retrying.
/// </summary>
/// <remarks>
/// Report a problem whenever an attempt fails (the monitor raises an event only when the data path turns from
/// healthy to degraded, so repeating a report is cheap), and report health after a full reconcile that programmed
/// every peer. Implementations are thread-safe and do not block.
/// </remarks>
/// <example>
/// <code>
/// var failed = await ProgramPeersAsync(ct);
/// if (failed.Count &gt; 0)
///     context.DataPath?.ReportProblem($"{failed.Count} peer route(s) could not be programmed (first: {failed[0].Message})", failed[0]);
/// else
///     context.DataPath?.ReportHealthy();
/// </code>
/// </example>
public interface IDataPathMonitor
{
    /// <summary>The data path is not fully in line with the peers, and the backend will retry.</summary>
    /// <param name="problem">What is wrong, for an operator: which peers or devices, and why.</param>
    /// <param name="cause">The underlying error, when there is one.</param>
    void ReportProblem(string problem, Exception? cause);

    /// <summary>A full reconcile programmed every peer: any earlier problem is over.</summary>
    void ReportHealthy();
}
