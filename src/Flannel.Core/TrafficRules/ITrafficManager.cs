namespace Flannel.TrafficRules;

/// <summary>
/// Installs and keeps flannel's masquerade (NAT) and forward-accept rules for one network instance. Every method is
/// idempotent and safe to call concurrently; the rules live in the instance's own chains or tables, so several
/// instances do not disturb each other. Built in: <see cref="IptablesTrafficManager"/>, <see cref="NftablesTrafficManager"/>,
/// <see cref="NoTrafficManager"/> (pick one with <see cref="TrafficManager.Create"/>); hosts may supply their own.
/// </summary>
/// <example>
/// <code>
/// ITrafficManager rules = TrafficManager.Create(new TrafficRuleOptions { Engine = TrafficRuleEngine.Iptables }, loggerFactory);
/// await rules.InitializeAsync(ct);
/// await rules.EnsureMasqueradeRulesAsync(current, previous, ct);
/// await rules.EnsureForwardRulesAsync(current, ct);
/// _ = rules.RunResyncAsync(ct);           // restores rules someone removes
/// // … on uninstall / --cleanup:
/// await rules.TeardownAsync(ct);
/// </code>
/// </example>
public interface ITrafficManager
{
    /// <summary>
    /// Prepares the engine: removes the other engine's leftovers of this instance (flanneld startup step 10) when
    /// <see cref="TrafficRuleOptions.CleanUpOtherEngine"/> is set. Call once, before the first ensure.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the engine is ready.</returns>
    ValueTask InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Makes the masquerade rules for <paramref name="current"/> the ones in place, per family whose network is set
    /// and whose switch (<see cref="TrafficRuleOptions.MasqueradeIPv4"/>, <see cref="TrafficRuleOptions.MasqueradeIPv6"/>)
    /// is on. Rules built from <paramref name="previous"/> (the lease this node held before, from the lease store) are
    /// removed first; a family that no longer gets masquerade rules loses the ones this instance installed.
    /// The new rules are remembered (even when applying them fails) and restored by <see cref="ResyncAsync"/>.
    /// </summary>
    /// <param name="current">The flannel network and this node's lease subnet, per family.</param>
    /// <param name="previous">The network and subnet the rules were built from before, or null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the rules are in place.</returns>
    /// <exception cref="ArgumentException">A network of the wrong family, a missing subnet, or a subnet outside its network.</exception>
    /// <exception cref="TrafficRuleException">A tool failed.</exception>
    ValueTask EnsureMasqueradeRulesAsync(TrafficNetworks current, TrafficNetworks? previous, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the forward-accept rules (traffic from or to the flannel network) the ones in place, per family whose
    /// network is set, when <see cref="TrafficRuleOptions.ForwardRules"/> is on. Subnets are not used.
    /// </summary>
    /// <param name="networks">The flannel networks.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the rules are in place.</returns>
    /// <exception cref="ArgumentException">A network of the wrong family.</exception>
    /// <exception cref="TrafficRuleException">A tool failed.</exception>
    ValueTask EnsureForwardRulesAsync(TrafficNetworks networks, CancellationToken cancellationToken);

    /// <summary>
    /// Checks that every rule this instance ensured is still in place, exactly and in order, and reinstalls what is
    /// missing or altered.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when something had to be repaired, false when everything was in place.</returns>
    /// <exception cref="TrafficRuleException">A tool failed.</exception>
    ValueTask<bool> ResyncAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Removes everything this instance's names own (its chains and the jumps to them, or its tables), in both
    /// families, and forgets the ensured rules. flanneld never does this (its rules outlive it); use it for uninstall.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when nothing of this instance is left.</returns>
    /// <exception cref="TrafficRuleException">A tool failed.</exception>
    ValueTask TeardownAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs <see cref="ResyncAsync"/> every <see cref="TrafficRuleOptions.ResyncPeriod"/> until
    /// <paramref name="cancellationToken"/> is cancelled, logging repairs and (rate-limited) failures; it never faults
    /// because of a failed resync. Custom managers can implement it with <see cref="TrafficRuleResync.RunAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Stops the loop.</param>
    /// <returns>A task that completes (successfully) when the loop has stopped.</returns>
    Task RunResyncAsync(CancellationToken cancellationToken);
}
