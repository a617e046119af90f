namespace Flannel.Node;

/// <summary>
/// Persists what a node held between runs, in the shape of flannel's subnet.env (<see cref="SubnetEnvironment"/>):
/// the previous subnet is offered for reuse when the node acquires its lease, the previous networks let traffic
/// rules built from them be removed, and the backend type guards against an unplanned backend change.
/// The default, <see cref="SubnetEnvStateStore"/>, is the subnet.env file the CNI plugin reads.
/// </summary>
public interface ILeaseStateStore
{
    /// <summary>Loads the previous state, or null when there is none.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The state, or null.</returns>
    ValueTask<SubnetEnvironment?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Saves the current state (atomically).</summary>
    /// <param name="state">The state.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the state is durable.</returns>
    ValueTask SaveAsync(SubnetEnvironment state, CancellationToken cancellationToken);

    /// <summary>Removes the saved state (teardown).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when something was removed.</returns>
    ValueTask<bool> DeleteAsync(CancellationToken cancellationToken);
}
