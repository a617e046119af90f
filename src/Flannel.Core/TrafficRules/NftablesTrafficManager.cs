using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The SemaphoreSlim never allocates a wait handle (AvailableWaitHandle is not used), so there is nothing to dispose.")]
public sealed class NftablesTrafficManager : ITrafficManager
{
    private const string Engine = "nftables";
    private readonly TrafficRuleOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly IptablesBackend _iptables;
    private readonly NftablesBackend _nftables;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly FamilyTable[] _families = [new(IpFamily.V4), new(IpFamily.V6)];

    /// <summary>Creates the manager; nothing runs until the first call.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">The logger factory, or null for no logs.</param>
    /// <param name="timeProvider">The clock of <see cref="RunResyncAsync"/>, or null for the system clock.</param>
    /// <exception cref="FlannelConfigurationException">An option is invalid.</exception>
    public NftablesTrafficManager(TrafficRuleOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Flannel.TrafficRules.Nftables");
        _timeProvider = timeProvider ?? TimeProvider.System;
        var runner = new ToolRunner(options, _logger);
        _iptables = new IptablesBackend(options, runner, _logger);
        _nftables = new NftablesBackend(options, runner, _logger);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Removes this instance's iptables chains (<see cref="TrafficRuleOptions.MasqueradeChain"/> in nat,
    /// <see cref="TrafficRuleOptions.ForwardChain"/> in filter) and the jumps to them, for iptables and ip6tables,
    /// when present and the tools are installed.
    /// </remarks>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        if (!_options.CleanUpOtherEngine)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                try
                {
                    var removed = await _iptables.RemoveOwnChainsAsync(f.Family, cancellationToken).ConfigureAwait(false);
                    if (removed is not null)
                    {
                        TrafficRulesLog.OtherEngineCleaned(_logger, f.IptablesTool, removed);
                    }
                }
                catch (TrafficRuleException ex)
                {
                    TrafficRulesLog.OtherEngineCleanupFailed(_logger, f.IptablesTool, ex);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask EnsureMasqueradeRulesAsync(TrafficNetworks current, TrafficNetworks? previous, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(current);
        current.Validate(nameof(current), requireSubnet: true);
        previous?.Validate(nameof(previous), requireSubnet: false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                var network = current.NetworkOf(f.Family);
                var wanted = _options.Masquerade(f.Family) && network is not null;
                var touch = wanted || network is not null || f.Masquerade is not null || previous?.NetworkOf(f.Family) is not null;
                f.Masquerade = wanted ? (network!.Value, current.SubnetOf(f.Family)!.Value) : null;
                if (!touch)
                {
                    continue;
                }

                if (f.Masquerade is (var n, var p))
                {
                    var rules = await MasqueradeRulesAsync(f.Family, n, p, cancellationToken).ConfigureAwait(false);
                    await ApplyChainAsync(f, NftablesScript.MasqueradeChain, rules, "installing the nftables masquerade rules", cancellationToken).ConfigureAwait(false);
                    var prev = previous?.NetworkOf(f.Family) is { } pn ? $"; replaced rules of previous network {pn}, subnet {previous.SubnetOf(f.Family)?.ToString() ?? "none"}" : string.Empty;
                    var location = Location(f, NftablesScript.MasqueradeChain);
                    var detail = $"network {n}, subnet {p}{prev}";
                    TrafficRulesLog.RulesInstalled(_logger, Engine, f.Name, "masquerade", location, detail);
                }
                else
                {
                    await RemoveChainAsync(f, NftablesScript.MasqueradeChain, "masquerade", cancellationToken).ConfigureAwait(false);
                }

                await TakeSnapshotAsync(f, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask EnsureForwardRulesAsync(TrafficNetworks networks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(networks);
        networks.Validate(nameof(networks), requireSubnet: false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                var network = networks.NetworkOf(f.Family);
                var touch = network is not null || f.Forward is not null;
                f.Forward = _options.ForwardRules ? network : null;
                if (!touch)
                {
                    continue;
                }

                if (f.Forward is { } n)
                {
                    var rules = NftablesScript.ForwardRules(f.Family, n);
                    await ApplyChainAsync(f, NftablesScript.ForwardChain, rules, "installing the nftables forward rules", cancellationToken).ConfigureAwait(false);
                    var location = Location(f, NftablesScript.ForwardChain);
                    var detail = $"network {n}";
                    TrafficRulesLog.RulesInstalled(_logger, Engine, f.Name, "forward", location, detail);
                }
                else
                {
                    await RemoveChainAsync(f, NftablesScript.ForwardChain, "forward", cancellationToken).ConfigureAwait(false);
                }

                await TakeSnapshotAsync(f, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ResyncAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var repaired = false;
            foreach (var f in _families)
            {
                if (f.Masquerade is null && f.Forward is null)
                {
                    continue;
                }

                var listing = await _nftables.ListTableAsync(f.Family, cancellationToken).ConfigureAwait(false);
                if (listing is not null && string.Equals(listing, f.Snapshot, StringComparison.Ordinal))
                {
                    TrafficRulesLog.ResyncInPlace(_logger, Engine, f.Name);
                    continue;
                }

                await RebuildAsync(f, cancellationToken).ConfigureAwait(false);
                await TakeSnapshotAsync(f, cancellationToken).ConfigureAwait(false);
                var where = $"table {NftablesScript.Family(f.Family)} {Table(f)}";
                TrafficRulesLog.RulesRepaired(_logger, Engine, f.Name, where);
                repaired = true;
            }

            return repaired;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    /// <remarks>Deletes this instance's two tables when present.</remarks>
    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                f.Masquerade = null;
                f.Forward = null;
                f.Snapshot = null;
            }

            var removed = await _nftables.DeleteOwnTablesAsync(cancellationToken).ConfigureAwait(false);
            if (removed is not null)
            {
                TrafficRulesLog.TornDown(_logger, Engine, removed);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public Task RunResyncAsync(CancellationToken cancellationToken) =>
        TrafficRuleResync.RunAsync(this, _options.ResyncPeriod, _logger, _timeProvider, cancellationToken);

    private string Table(FamilyTable f) => _options.NftablesTable(f.Family);

    private string Location(FamilyTable f, string chain) => $"table {NftablesScript.Family(f.Family)} {Table(f)} chain {chain}";

    private async Task<IReadOnlyList<string>> MasqueradeRulesAsync(IpFamily family, IPNetwork network, IPNetwork subnet, CancellationToken cancellationToken)
    {
        var fullyRandom = _options.FullyRandom && await _nftables.FullyRandomAsync(cancellationToken).ConfigureAwait(false);
        return NftablesScript.MasqueradeRules(family, network, subnet, fullyRandom);
    }

    /// <summary>
    /// Updates one chain in place (the other chain of the table untouched); when nft refuses (a chain of that name
    /// exists with another type, hook or priority), rebuilds the whole table from the wanted rules instead.
    /// </summary>
    private async Task ApplyChainAsync(FamilyTable f, string chain, IReadOnlyList<string> rules, string what, CancellationToken cancellationToken)
    {
        try
        {
            await _nftables.ApplyAsync(NftablesScript.EnsureChain(f.Family, Table(f), chain, rules), what, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (!ex.ToolMissing)
        {
            var location = Location(f, chain);
            TrafficRulesLog.RebuildingTable(_logger, location, ex);
            await RebuildAsync(f, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Replaces the family's table with exactly the wanted chains, atomically.</summary>
    private async Task RebuildAsync(FamilyTable f, CancellationToken cancellationToken)
    {
        var masq = f.Masquerade is (var n, var p) ? await MasqueradeRulesAsync(f.Family, n, p, cancellationToken).ConfigureAwait(false) : null;
        var fwd = f.Forward is { } fn ? NftablesScript.ForwardRules(f.Family, fn) : null;
        await _nftables.ApplyAsync(NftablesScript.Rebuild(f.Family, Table(f), masq, fwd), "rebuilding the nftables table", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes one of our chains if present (and the table when it was the last chain in it).</summary>
    private async Task RemoveChainAsync(FamilyTable f, string chain, string kind, CancellationToken cancellationToken)
    {
        string? listing;
        try
        {
            listing = await _nftables.ListTableAsync(f.Family, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (ex.ToolMissing)
        {
            var what = $"checking for {kind} rules to remove";
            TrafficRulesLog.Skipped(_logger, Engine, what, ex.Message);
            return;
        }

        if (listing is null)
        {
            return;
        }

        var chains = NftablesBackend.Chains(listing);
        if (!chains.Contains(chain, StringComparer.Ordinal))
        {
            return;
        }

        var lastChain = chains.All(c => string.Equals(c, chain, StringComparison.Ordinal));
        var script = lastChain ? NftablesScript.DeleteTable(f.Family, Table(f)) : NftablesScript.DeleteChain(f.Family, Table(f), chain);
        await _nftables.ApplyAsync(script, $"removing the nftables {kind} rules", cancellationToken).ConfigureAwait(false);
        var location = Location(f, chain);
        TrafficRulesLog.RulesRemoved(_logger, Engine, f.Name, kind, location, "no longer wanted");
    }

    private async Task TakeSnapshotAsync(FamilyTable f, CancellationToken cancellationToken) =>
        f.Snapshot = f.Masquerade is null && f.Forward is null ? null : await _nftables.ListTableAsync(f.Family, cancellationToken).ConfigureAwait(false);

    /// <summary>What this instance wants in one family's table, and the table as it was after the last change.</summary>
    private sealed class FamilyTable(IpFamily family)
    {
        public IpFamily Family { get; } = family;

        public string Name { get; } = family == IpFamily.V4 ? "IPv4" : "IPv6";

        public string IptablesTool { get; } = IptablesBackend.Name(family);

        public (IPNetwork Network, IPNetwork Subnet)? Masquerade { get; set; }

        public IPNetwork? Forward { get; set; }

        public string? Snapshot { get; set; }
    }
}
