using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>
/// What is nftables-specific behind <see cref="NftablesTrafficManager"/>: the rules of a family as two chains of our
/// table (<see cref="NftablesScript"/>), applied chain by chain in one <c>nft -f -</c> transaction (the whole table
/// rebuilt when nft refuses that), and checked by comparing <c>nft list table</c> with the listing taken after the last
/// change. The flow around it is <see cref="TrafficRuleEngineBase"/>'s.
/// </summary>
internal sealed class NftablesEngine(TrafficRuleOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider)
    : TrafficRuleEngineBase(options, loggerFactory, timeProvider, "nftables", "Flannel.TrafficRules.Nftables")
{
    /// <summary>Per family, the table as <c>nft list table</c> printed it after the last change (null: nothing wanted).</summary>
    private readonly string?[] _snapshots = new string?[2];

    /// <inheritdoc />
    protected override string LogName(IpFamily family) => Engine;

    /// <inheritdoc />
    protected override async Task ApplyMasqueradeAsync(WantedRules f, string? previous, CancellationToken cancellationToken)
    {
        IReadOnlyList<string>? rules = null;
        var detail = string.Empty;
        if (f.Masquerade is (var n, var p))
        {
            rules = await MasqueradeRulesAsync(f.Family, n, p, cancellationToken).ConfigureAwait(false);
            detail = $"network {n}, subnet {p}{(previous is { } d ? "; replaced rules of " + d : string.Empty)}";
        }

        await ApplyPartAsync(f, NftablesScript.MasqueradeChain, "masquerade", rules, detail, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override Task ApplyForwardAsync(WantedRules f, CancellationToken cancellationToken) =>
        ApplyPartAsync(f, NftablesScript.ForwardChain, "forward", f.Forward is { } n ? NftablesScript.ForwardRules(f.Family, n) : null, $"network {f.Forward}", cancellationToken);

    /// <inheritdoc />
    /// <remarks>Any difference from the listing taken after the last change rebuilds the whole table atomically.</remarks>
    protected override async Task<string?> RepairAsync(WantedRules f, CancellationToken cancellationToken)
    {
        var listing = await Nftables.ListTableAsync(f.Family, cancellationToken).ConfigureAwait(false);
        if (listing is not null && string.Equals(listing, _snapshots[(int)f.Family], StringComparison.Ordinal))
        {
            return null;
        }

        await RebuildAsync(f, cancellationToken).ConfigureAwait(false);
        await TakeSnapshotAsync(f, cancellationToken).ConfigureAwait(false);
        return $"table {NftablesScript.Family(f.Family)} {Table(f)}";
    }

    /// <inheritdoc />
    /// <remarks>This instance's iptables and ip6tables chains and the jumps to them.</remarks>
    protected override IEnumerable<Removal> OtherEngineArtefacts() => IptablesChains();

    /// <inheritdoc />
    /// <remarks>This instance's two tables.</remarks>
    protected override IEnumerable<Removal> OwnArtefacts() => NftablesTables();

    /// <inheritdoc />
    protected override void Forget() => Array.Clear(_snapshots);

    private string Table(WantedRules f) => Options.NftablesTable(f.Family);

    private string Location(WantedRules f, string chain) => $"table {NftablesScript.Family(f.Family)} {Table(f)} chain {chain}";

    private async Task<IReadOnlyList<string>> MasqueradeRulesAsync(IpFamily family, IPNetwork network, IPNetwork subnet, CancellationToken cancellationToken)
    {
        var fullyRandom = Options.FullyRandom && await Nftables.FullyRandomAsync(cancellationToken).ConfigureAwait(false);
        return NftablesScript.MasqueradeRules(family, network, subnet, fullyRandom);
    }

    /// <summary>
    /// Installs one chain's rules (<paramref name="rules"/> set) or removes the chain (null), then keeps the table's
    /// listing for the resync.
    /// </summary>
    private async Task ApplyPartAsync(WantedRules f, string chain, string kind, IReadOnlyList<string>? rules, string detail, CancellationToken cancellationToken)
    {
        if (rules is not null)
        {
            await ApplyChainAsync(f, chain, rules, $"installing the nftables {kind} rules", cancellationToken).ConfigureAwait(false);
            var location = Location(f, chain);
            TrafficRulesLog.RulesInstalled(Logger, Engine, f.Name, kind, location, detail);
        }
        else
        {
            await RemoveChainAsync(f, chain, kind, cancellationToken).ConfigureAwait(false);
        }

        await TakeSnapshotAsync(f, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Updates one chain in place (the other chain of the table untouched); when nft refuses (a chain of that name
    /// exists with another type, hook or priority), rebuilds the whole table from the wanted rules instead.
    /// </summary>
    private async Task ApplyChainAsync(WantedRules f, string chain, IReadOnlyList<string> rules, string what, CancellationToken cancellationToken)
    {
        try
        {
            await Nftables.ApplyAsync(NftablesScript.EnsureChain(f.Family, Table(f), chain, rules), what, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (!ex.ToolMissing)
        {
            var location = Location(f, chain);
            TrafficRulesLog.RebuildingTable(Logger, location, ex);
            await RebuildAsync(f, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Replaces the family's table with exactly the wanted chains, atomically.</summary>
    private async Task RebuildAsync(WantedRules f, CancellationToken cancellationToken)
    {
        var masq = f.Masquerade is (var n, var p) ? await MasqueradeRulesAsync(f.Family, n, p, cancellationToken).ConfigureAwait(false) : null;
        var fwd = f.Forward is { } fn ? NftablesScript.ForwardRules(f.Family, fn) : null;
        await Nftables.ApplyAsync(NftablesScript.Rebuild(f.Family, Table(f), masq, fwd), "rebuilding the nftables table", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes one of our chains if present (and the table when it was the last chain in it).</summary>
    private async Task RemoveChainAsync(WantedRules f, string chain, string kind, CancellationToken cancellationToken)
    {
        string? listing;
        try
        {
            listing = await Nftables.ListTableAsync(f.Family, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (ex.ToolMissing)
        {
            var what = $"checking for {kind} rules to remove";
            TrafficRulesLog.Skipped(Logger, Engine, what, ex.Message);
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
        await Nftables.ApplyAsync(script, $"removing the nftables {kind} rules", cancellationToken).ConfigureAwait(false);
        var location = Location(f, chain);
        TrafficRulesLog.RulesRemoved(Logger, Engine, f.Name, kind, location, "no longer wanted");
    }

    private async Task TakeSnapshotAsync(WantedRules f, CancellationToken cancellationToken) =>
        _snapshots[(int)f.Family] = f.Masquerade is null && f.Forward is null ? null : await Nftables.ListTableAsync(f.Family, cancellationToken).ConfigureAwait(false);
}
