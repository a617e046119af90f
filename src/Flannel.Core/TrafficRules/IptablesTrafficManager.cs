using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The SemaphoreSlim never allocates a wait handle (AvailableWaitHandle is not used), so there is nothing to dispose.")]
public sealed class IptablesTrafficManager : ITrafficManager
{
    private const string Engine = "iptables";
    private readonly TrafficRuleOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly IptablesBackend _iptables;
    private readonly NftablesBackend _nftables;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly FamilyRules[] _families = [new(IpFamily.V4), new(IpFamily.V6)];

    /// <summary>Creates the manager; nothing runs until the first call.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">The logger factory, or null for no logs.</param>
    /// <param name="timeProvider">The clock of <see cref="RunResyncAsync"/>, or null for the system clock.</param>
    /// <exception cref="FlannelConfigurationException">An option is invalid.</exception>
    public IptablesTrafficManager(TrafficRuleOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Flannel.TrafficRules.Iptables");
        _timeProvider = timeProvider ?? TimeProvider.System;
        var runner = new ToolRunner(options, _logger);
        _iptables = new IptablesBackend(options, runner, _logger);
        _nftables = new NftablesBackend(options, runner, _logger);
    }

    /// <inheritdoc />
    /// <remarks>Deletes this instance's nftables tables (<see cref="TrafficRuleOptions.NftablesIPv4Table"/>, <see cref="TrafficRuleOptions.NftablesIPv6Table"/>) when present.</remarks>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        if (!_options.CleanUpOtherEngine)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            try
            {
                var removed = await _nftables.DeleteOwnTablesAsync(cancellationToken).ConfigureAwait(false);
                if (removed is not null)
                {
                    TrafficRulesLog.OtherEngineCleaned(_logger, "nftables", removed);
                }
            }
            catch (TrafficRuleException ex)
            {
                TrafficRulesLog.OtherEngineCleanupFailed(_logger, "nftables", ex);
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
                if (touch)
                {
                    await SyncAsync(f, masquerade: true, forward: false, Describe(previous, f.Family), cancellationToken).ConfigureAwait(false);
                }
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
                if (touch)
                {
                    await SyncAsync(f, masquerade: false, forward: true, null, cancellationToken).ConfigureAwait(false);
                }
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

                var blocks = await DesiredBlocksAsync(f, cancellationToken).ConfigureAwait(false);
                var state = await _iptables.ListChainsAsync(f.Family, [.. blocks.SelectMany(b => new[] { (b.Table, b.Hook), (b.Table, b.Chain) })], cancellationToken).ConfigureAwait(false);
                var script = new IptablesScript(state);
                var broken = new List<string>(2);
                foreach (var block in blocks)
                {
                    if (!block.IsInPlace(state))
                    {
                        script.Install(block);
                        broken.Add($"{block.Table} {block.Chain}");
                    }
                }

                if (script.IsEmpty)
                {
                    TrafficRulesLog.ResyncInPlace(_logger, Engine, f.Name);
                    continue;
                }

                await _iptables.RestoreAsync(f.Family, script.ToString(), cancellationToken).ConfigureAwait(false);
                var where = string.Join(", ", broken);
                TrafficRulesLog.RulesRepaired(_logger, f.Tool, f.Name, where);
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
    /// <remarks>
    /// Removes, in both families, the jumps to <see cref="TrafficRuleOptions.MasqueradeChain"/> (nat) and
    /// <see cref="TrafficRuleOptions.ForwardChain"/> (filter) and the chains themselves; a family whose tools are not
    /// installed is skipped.
    /// </remarks>
    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                f.Masquerade = null;
                f.Forward = null;
                var removed = await _iptables.RemoveOwnChainsAsync(f.Family, cancellationToken).ConfigureAwait(false);
                if (removed is not null)
                {
                    TrafficRulesLog.TornDown(_logger, f.Tool, removed);
                }
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

    private static string? Describe(TrafficNetworks? previous, IpFamily family) =>
        previous?.NetworkOf(family) is { } n ? $"previous network {n}, subnet {previous.SubnetOf(family)?.ToString() ?? "none"}" : null;

    private async Task<List<IptablesChainBlock>> DesiredBlocksAsync(FamilyRules f, CancellationToken cancellationToken)
    {
        var blocks = new List<IptablesChainBlock>(2);
        if (f.Masquerade is (var network, var subnet))
        {
            var randomFully = _options.FullyRandom && (await _iptables.FeaturesAsync(f.Family, cancellationToken).ConfigureAwait(false)).RandomFully;
            blocks.Add(IptablesRules.Masquerade(_options.MasqueradeChain, network, subnet, randomFully));
        }

        if (f.Forward is { } fwd)
        {
            blocks.Add(IptablesRules.Forward(_options.ForwardChain, fwd));
        }

        return blocks;
    }

    /// <summary>Brings one part (masquerade or forward) of one family to the desired state in one transaction.</summary>
    private async Task SyncAsync(FamilyRules f, bool masquerade, bool forward, string? previous, CancellationToken cancellationToken)
    {
        var tool = IptablesBackend.Name(f.Family);
        var wantMasq = masquerade && f.Masquerade is not null;
        var wantFwd = forward && f.Forward is not null;
        IptablesSnapshot state;
        try
        {
            state = await _iptables.SaveAsync(f.Family, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (ex.ToolMissing && !wantMasq && !wantFwd)
        {
            var what = $"checking for {f.Name} rules to remove";
            TrafficRulesLog.Skipped(_logger, tool, what, ex.Message);
            return;
        }

        var script = new IptablesScript(state);
        var installed = new List<(IptablesChainBlock Block, string Kind)>(2);
        var removed = new List<(string Location, string Kind)>(2);
        var blocks = await DesiredBlocksAsync(f, cancellationToken).ConfigureAwait(false);
        foreach (var block in blocks)
        {
            var isMasq = block.Table == "nat";
            if ((isMasq && !masquerade) || (!isMasq && !forward))
            {
                continue;
            }

            if (block.IsInPlace(state))
            {
                var kind = isMasq ? "masquerade" : "forward";
                var location = $"{block.Table} {block.Chain}";
                TrafficRulesLog.RulesInPlace(_logger, tool, f.Name, kind, location);
            }
            else
            {
                script.Install(block);
                installed.Add((block, isMasq ? "masquerade" : "forward"));
            }
        }

        if (masquerade && !wantMasq && script.Remove("nat", _options.MasqueradeChain))
        {
            removed.Add(($"nat {_options.MasqueradeChain}", "masquerade"));
        }

        if (forward && !wantFwd && script.Remove("filter", _options.ForwardChain))
        {
            removed.Add(($"filter {_options.ForwardChain}", "forward"));
        }

        if (script.IsEmpty)
        {
            return;
        }

        await _iptables.RestoreAsync(f.Family, script.ToString(), cancellationToken).ConfigureAwait(false);
        foreach (var (block, kind) in installed)
        {
            var detail = kind == "masquerade" && f.Masquerade is (var n, var p)
                ? $"network {n}, subnet {p}{(previous is null ? string.Empty : "; replaced rules of " + previous)}"
                : $"network {f.Forward}";
            var location = $"{block.Table} {block.Chain}";
            TrafficRulesLog.RulesInstalled(_logger, tool, f.Name, kind, location, detail);
        }

        foreach (var (location, kind) in removed)
        {
            var reason = previous ?? "no longer wanted";
            TrafficRulesLog.RulesRemoved(_logger, tool, f.Name, kind, location, reason);
        }
    }

    /// <summary>What this instance wants in place for one family.</summary>
    private sealed class FamilyRules(IpFamily family)
    {
        public IpFamily Family { get; } = family;

        public string Name { get; } = family == IpFamily.V4 ? "IPv4" : "IPv6";

        public string Tool { get; } = IptablesBackend.Name(family);

        public (IPNetwork Network, IPNetwork Subnet)? Masquerade { get; set; }

        public IPNetwork? Forward { get; set; }
    }
}
