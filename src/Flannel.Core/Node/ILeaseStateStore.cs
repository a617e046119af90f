using System.Net;

namespace Flannel.Node;

/// <summary>What a node remembers between runs: the networks and subnets it held, its MTU and backend.</summary>
public sealed record PreviousLeaseState
{
    /// <summary>The IPv4 overlay network the node was part of.</summary>
    public IPNetwork? Network { get; init; }

    /// <summary>The IPv4 subnet the node held.</summary>
    public IPNetwork? Subnet { get; init; }

    /// <summary>The IPv6 overlay network the node was part of.</summary>
    public IPNetwork? IPv6Network { get; init; }

    /// <summary>The IPv6 subnet the node held.</summary>
    public IPNetwork? IPv6Subnet { get; init; }

    /// <summary>The MTU the node advertised.</summary>
    public int? Mtu { get; init; }

    /// <summary>Whether masquerade was on.</summary>
    public bool? IPMasq { get; init; }

    /// <summary>The backend type the node ran, when the store records it (subnet.env does not).</summary>
    public BackendType? BackendType { get; init; }
}

/// <summary>
/// Persists <see cref="PreviousLeaseState"/> between runs. The previous subnet is offered for reuse when the
/// node acquires its lease, and previous networks/subnets let traffic rules built from them be removed.
/// </summary>
public interface ILeaseStateStore
{
    /// <summary>Loads the previous state, or null when there is none.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The state, or null.</returns>
    ValueTask<PreviousLeaseState?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Saves the current state (atomically).</summary>
    /// <param name="state">The state.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the state is durable.</returns>
    ValueTask SaveAsync(PreviousLeaseState state, CancellationToken cancellationToken);

    /// <summary>Removes the saved state (teardown).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when something was removed.</returns>
    ValueTask<bool> DeleteAsync(CancellationToken cancellationToken);
}
