using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>
/// What is iptables-specific behind <see cref="IptablesTrafficManager"/>: the rules of a family as two chain blocks
/// (<see cref="IptablesRules"/>), read back with <c>iptables-save</c> (ensure) or <c>iptables -S</c> of the four chains
/// involved (resync), compared line by line, and applied as one <c>iptables-restore --noflush</c> transaction per family.
/// The flow around it is <see cref="TrafficRuleEngineBase"/>'s.
/// </summary>
internal sealed class IptablesEngine(TrafficRuleOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider)
    : TrafficRuleEngineBase(options, loggerFactory, timeProvider, "iptables", "Flannel.TrafficRules.Iptables")
{
    /// <inheritdoc />
    protected override string LogName(IpFamily family) => IptablesBackend.Name(family);

    /// <inheritdoc />
    protected override Task ApplyMasqueradeAsync(WantedRules f, string? previous, CancellationToken cancellationToken) =>
        SyncAsync(f, masquerade: true, forward: false, previous, cancellationToken);

    /// <inheritdoc />
    protected override Task ApplyForwardAsync(WantedRules f, CancellationToken cancellationToken) =>
        SyncAsync(f, masquerade: false, forward: true, null, cancellationToken);

    /// <inheritdoc />
    protected override async Task<string?> RepairAsync(WantedRules f, CancellationToken cancellationToken)
    {
        var blocks = await DesiredBlocksAsync(f, cancellationToken).ConfigureAwait(false);
        var state = await Iptables.ListChainsAsync(f.Family, [.. blocks.SelectMany(b => new[] { (b.Table, b.Hook), (b.Table, b.Chain) })], cancellationToken).ConfigureAwait(false);
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
            return null;
        }

        await Iptables.RestoreAsync(f.Family, script.ToString(), cancellationToken).ConfigureAwait(false);
        return string.Join(", ", broken);
    }

    /// <inheritdoc />
    /// <remarks>This instance's nftables tables.</remarks>
    protected override IEnumerable<Removal> OtherEngineArtefacts() => NftablesTables();

    /// <inheritdoc />
    /// <remarks>The jumps to our two chains and the chains, per family; a family whose tools are not installed is skipped.</remarks>
    protected override IEnumerable<Removal> OwnArtefacts() => IptablesChains();

    private async Task<List<IptablesChainBlock>> DesiredBlocksAsync(WantedRules f, CancellationToken cancellationToken)
    {
        var blocks = new List<IptablesChainBlock>(2);
        if (f.Masquerade is (var network, var subnet))
        {
            var randomFully = Options.FullyRandom && (await Iptables.FeaturesAsync(f.Family, cancellationToken).ConfigureAwait(false)).RandomFully;
            blocks.Add(IptablesRules.Masquerade(Options.MasqueradeChain, network, subnet, randomFully));
        }

        if (f.Forward is { } fwd)
        {
            blocks.Add(IptablesRules.Forward(Options.ForwardChain, fwd));
        }

        return blocks;
    }

    /// <summary>Brings one part (masquerade or forward) of one family to the desired state in one transaction.</summary>
    private async Task SyncAsync(WantedRules f, bool masquerade, bool forward, string? previous, CancellationToken cancellationToken)
    {
        var tool = IptablesBackend.Name(f.Family);
        var wantMasq = masquerade && f.Masquerade is not null;
        var wantFwd = forward && f.Forward is not null;
        IptablesSnapshot state;
        try
        {
            state = await Iptables.SaveAsync(f.Family, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (ex.ToolMissing && !wantMasq && !wantFwd)
        {
            var what = $"checking for {f.Name} rules to remove";
            TrafficRulesLog.Skipped(Logger, tool, what, ex.Message);
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
                TrafficRulesLog.RulesInPlace(Logger, tool, f.Name, kind, location);
            }
            else
            {
                script.Install(block);
                installed.Add((block, isMasq ? "masquerade" : "forward"));
            }
        }

        if (masquerade && !wantMasq && script.Remove("nat", Options.MasqueradeChain))
        {
            removed.Add(($"nat {Options.MasqueradeChain}", "masquerade"));
        }

        if (forward && !wantFwd && script.Remove("filter", Options.ForwardChain))
        {
            removed.Add(($"filter {Options.ForwardChain}", "forward"));
        }

        if (script.IsEmpty)
        {
            return;
        }

        await Iptables.RestoreAsync(f.Family, script.ToString(), cancellationToken).ConfigureAwait(false);
        foreach (var (block, kind) in installed)
        {
            var detail = kind == "masquerade" && f.Masquerade is (var n, var p)
                ? $"network {n}, subnet {p}{(previous is null ? string.Empty : "; replaced rules of " + previous)}"
                : $"network {f.Forward}";
            var location = $"{block.Table} {block.Chain}";
            TrafficRulesLog.RulesInstalled(Logger, tool, f.Name, kind, location, detail);
        }

        foreach (var (location, kind) in removed)
        {
            var reason = previous ?? "no longer wanted";
            TrafficRulesLog.RulesRemoved(Logger, tool, f.Name, kind, location, reason);
        }
    }
}
