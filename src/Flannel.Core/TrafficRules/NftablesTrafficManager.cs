using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>
/// flannel's nftables rules (flanneld <c>EnableNFTables</c>, flannel.md §5.5) in this instance's tables
/// <see cref="TrafficRuleOptions.NftablesIPv4Table"/> (family ip) and <see cref="TrafficRuleOptions.NftablesIPv6Table"/>
/// (family ip6): chain <c>postrtg</c> (nat, postrouting, srcnat) with the masquerade rules and chain <c>forward</c>
/// (filter, forward, filter) with the accept rules.
/// </summary>
/// <remarks>
/// Every change is one atomic <c>nft -f -</c> transaction that touches only our tables. Unlike flanneld (which never
/// checks its tables again), the resync lists each table once and, when it differs from what was installed, rebuilds
/// the table atomically from the wanted rules.
/// </remarks>
/// <example>
/// <code>
/// var rules = new NftablesTrafficManager(new TrafficRuleOptions { Engine = TrafficRuleEngine.Nftables }, loggerFactory);
/// await rules.InitializeAsync(ct);   // removes this instance's iptables chains left from iptables mode
/// await rules.EnsureForwardRulesAsync(new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16") }, ct);
/// </code>
/// </example>
public sealed class NftablesTrafficManager : ITrafficManager
{
    private readonly NftablesEngine _engine;

    /// <summary>Creates the manager; nothing runs until the first call.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">The logger factory, or null for no logs.</param>
    /// <param name="timeProvider">The clock of <see cref="RunResyncAsync"/>, or null for the system clock.</param>
    /// <exception cref="FlannelConfigurationException">An option is invalid.</exception>
    public NftablesTrafficManager(TrafficRuleOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        _engine = new NftablesEngine(options, loggerFactory, timeProvider);

    /// <inheritdoc />
    /// <remarks>
    /// Removes this instance's iptables chains (<see cref="TrafficRuleOptions.MasqueradeChain"/> in nat,
    /// <see cref="TrafficRuleOptions.ForwardChain"/> in filter) and the jumps to them, for iptables and ip6tables,
    /// when present and the tools are installed.
    /// </remarks>
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
    /// <remarks>Deletes this instance's two tables when present.</remarks>
    public ValueTask TeardownAsync(CancellationToken cancellationToken) => _engine.TeardownAsync(cancellationToken);

    /// <inheritdoc />
    public Task RunResyncAsync(CancellationToken cancellationToken) => _engine.RunResyncAsync(cancellationToken);
}
