using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>
/// flannel's iptables rules (flannel.md §5.5) in this instance's chains: the masquerade block in the nat chain
/// <see cref="TrafficRuleOptions.MasqueradeChain"/> (jumped to from POSTROUTING) and the forward block in the filter
/// chain <see cref="TrafficRuleOptions.ForwardChain"/> (jumped to from FORWARD), for iptables and ip6tables.
/// </summary>
/// <remarks>
/// An ensure reads the rule set once with <c>iptables-save</c>; a resync lists only the four chains it checks
/// (<c>iptables -S CHAIN</c>: our two and the two built-in chains that jump to them), so its cost does not grow with
/// kube-proxy's rule set. Both compare our chain line by line with the expected text. Every change is one <c>iptables-restore --noflush</c> transaction that recreates (flushes) our chain, deletes
/// every copy of the jump and appends the jump and the rules, so the block is contiguous and ordered. Nothing is
/// written when the rules are already in place. Works with iptables-legacy and iptables-nft.
/// </remarks>
/// <example>
/// <code>
/// var rules = new IptablesTrafficManager(new TrafficRuleOptions(), loggerFactory);
/// await rules.InitializeAsync(ct);
/// await rules.EnsureMasqueradeRulesAsync(
///     new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16"), Subnet = IPNetwork.Parse("10.244.5.0/24") },
///     previous: null, ct);
/// </code>
/// </example>
public sealed class IptablesTrafficManager : ITrafficManager
{
    private readonly IptablesEngine _engine;

    /// <summary>Creates the manager; nothing runs until the first call.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">The logger factory, or null for no logs.</param>
    /// <param name="timeProvider">The clock of <see cref="RunResyncAsync"/>, or null for the system clock.</param>
    /// <exception cref="FlannelConfigurationException">An option is invalid.</exception>
    public IptablesTrafficManager(TrafficRuleOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        _engine = new IptablesEngine(options, loggerFactory, timeProvider);

    /// <inheritdoc />
    /// <remarks>Deletes this instance's nftables tables (<see cref="TrafficRuleOptions.NftablesIPv4Table"/>, <see cref="TrafficRuleOptions.NftablesIPv6Table"/>) when present.</remarks>
    public ValueTask InitializeAsync(CancellationToken cancellationToken) => _engine.InitializeAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask EnsureMasqueradeRulesAsync(TrafficNetworks current, TrafficNetworks? previous, CancellationToken cancellationToken) =>
        _engine.EnsureMasqueradeRulesAsync(current, previous, cancellationToken);

    /// <inheritdoc />
    public ValueTask EnsureForwardRulesAsync(TrafficNetworks networks, CancellationToken cancellationToken) =>
        _engine.EnsureForwardRulesAsync(networks, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> ResyncAsync(CancellationToken cancellationToken) => _engine.ResyncAsync(cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Removes, in both families, the jumps to <see cref="TrafficRuleOptions.MasqueradeChain"/> (nat) and
    /// <see cref="TrafficRuleOptions.ForwardChain"/> (filter) and the chains themselves; a family whose tools are not
    /// installed is skipped.
    /// </remarks>
    public ValueTask TeardownAsync(CancellationToken cancellationToken) => _engine.TeardownAsync(cancellationToken);

    /// <inheritdoc />
    public Task RunResyncAsync(CancellationToken cancellationToken) => _engine.RunResyncAsync(cancellationToken);
}
