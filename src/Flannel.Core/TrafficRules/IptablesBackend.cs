using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>What an iptables binary supports, from its version (flannel and go-iptables decide the same way).</summary>
/// <param name="Version">The version text, for example <c>v1.8.9 (nf_tables)</c>.</param>
/// <param name="RandomFully">MASQUERADE <c>--random-fully</c> (iptables 1.6.2 and later).</param>
/// <param name="Wait">iptables-restore <c>--wait</c> (1.6.2 and later).</param>
internal sealed partial record IptablesFeatures(string Version, bool RandomFully, bool Wait)
{
    /// <summary>Parses <c>iptables --version</c> output (<c>iptables v1.8.9 (nf_tables)</c>).</summary>
    public static IptablesFeatures Parse(string versionOutput)
    {
        var text = versionOutput.Trim();
        var m = VersionPattern().Match(text);
        if (!m.Success)
        {
            return new IptablesFeatures(text.Length == 0 ? "(unknown version)" : text, false, false);
        }

        var v = new Version(
            int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture));
        var modern = v >= new Version(1, 6, 2);
        var version = text.IndexOf(' ', StringComparison.Ordinal) is var i and > 0 ? text[(i + 1)..] : text;
        return new IptablesFeatures(version, modern, modern);
    }

    [GeneratedRegex(@"v(\d+)\.(\d+)\.(\d+)")]
    private static partial Regex VersionPattern();
}

/// <summary>
/// iptables plumbing shared by <see cref="IptablesTrafficManager"/> and, for its startup clean-up, by
/// <see cref="NftablesTrafficManager"/>: save, restore, feature probe, and removal of this instance's chains.
/// </summary>
internal sealed class IptablesBackend(TrafficRuleOptions options, ToolRunner runner, ILogger logger)
{
    private readonly IptablesFeatures?[] _features = new IptablesFeatures?[2];

    /// <summary>The iptables command of a family (for messages).</summary>
    public static string Name(IpFamily family) => family == IpFamily.V4 ? "iptables" : "ip6tables";

    /// <summary>Reads and parses the whole rule set of a family (one <c>iptables-save</c>).</summary>
    public async Task<IptablesSnapshot> SaveAsync(IpFamily family, CancellationToken cancellationToken)
    {
        var tool = family == IpFamily.V4 ? options.IptablesSavePath : options.Ip6tablesSavePath;
        var text = await runner.CheckAsync(tool, [], null, $"reading the {Name(family)} rules", cancellationToken).ConfigureAwait(false);
        try
        {
            return IptablesSnapshot.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new TrafficRuleException($"cannot understand the output of {tool}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Lists just the given chains (<c>iptables -t TABLE -S CHAIN</c> each): the resync's read, whose cost does not
    /// grow with the rest of the rule set (kube-proxy's thousands of nat rules), unlike a whole <c>iptables-save</c>.
    /// </summary>
    public async Task<IptablesSnapshot> ListChainsAsync(IpFamily family, IReadOnlyList<(string Table, string Chain)> chains, CancellationToken cancellationToken)
    {
        var tool = family == IpFamily.V4 ? options.IptablesPath : options.Ip6tablesPath;
        var features = await FeaturesAsync(family, cancellationToken).ConfigureAwait(false);
        var listings = new List<(string, string, string?)>(chains.Count);
        foreach (var (table, chain) in chains)
        {
            List<string> args = [];
            if (options.XtablesLockWait is { } wait && features.Wait)
            {
                args.Add("--wait=" + ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
            }

            args.AddRange(["-t", table, "-S", chain]);
            var r = await runner.RunAsync(tool, args, null, cancellationToken).ConfigureAwait(false);
            if (r.ExitCode is not (0 or 1))
            {
                var command = tool + " " + string.Join(' ', args);
                throw new TrafficRuleException($"reading the {Name(family)} chain {table} {chain} failed: '{command}' exited {r.ExitCode}: {r.Stderr.Trim()}", command, r.ExitCode, r.Stderr.Trim());
            }

            // Exit code 1 is iptables' "no such chain" (go-iptables reads it the same way).
            listings.Add((table, chain, r.ExitCode == 0 ? r.Stdout : null));
        }

        try
        {
            return IptablesSnapshot.FromListings(listings);
        }
        catch (FormatException ex)
        {
            throw new TrafficRuleException($"cannot understand the output of {tool} -S: {ex.Message}", ex);
        }
    }

    /// <summary>Applies a transaction with <c>iptables-restore --noflush</c> (and <c>--wait</c> when supported and configured).</summary>
    public async Task RestoreAsync(IpFamily family, string script, CancellationToken cancellationToken)
    {
        var tool = family == IpFamily.V4 ? options.IptablesRestorePath : options.Ip6tablesRestorePath;
        var features = await FeaturesAsync(family, cancellationToken).ConfigureAwait(false);
        List<string> args = ["--noflush"];
        if (options.XtablesLockWait is { } wait && features.Wait)
        {
            args.Add("--wait=" + ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
        }

        await runner.CheckAsync(tool, args, script, $"applying the {Name(family)} rules", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What the family's iptables supports (probed once, from its version).</summary>
    public async Task<IptablesFeatures> FeaturesAsync(IpFamily family, CancellationToken cancellationToken)
    {
        if (_features[(int)family] is { } known)
        {
            return known;
        }

        var tool = family == IpFamily.V4 ? options.IptablesPath : options.Ip6tablesPath;
        var r = await runner.RunAsync(tool, ["--version"], null, cancellationToken).ConfigureAwait(false);
        var features = IptablesFeatures.Parse(r.ExitCode == 0 ? r.Stdout : string.Empty);
        if (!features.RandomFully && options.FullyRandom)
        {
            TrafficRulesLog.FeatureUnsupported(logger, tool, features.Version, "--random-fully");
        }

        _features[(int)family] = features;
        return features;
    }

    /// <summary>
    /// Removes this instance's nat and filter chains of a family and every rule that jumps to them. Returns what was
    /// removed (empty when nothing was there, or when the family's tools are not installed).
    /// </summary>
    public async Task<string?> RemoveOwnChainsAsync(IpFamily family, CancellationToken cancellationToken)
    {
        IptablesSnapshot state;
        try
        {
            state = await SaveAsync(family, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (ex.ToolMissing)
        {
            var name = Name(family);
            var message = ex.Message;
            TrafficRulesLog.Skipped(logger, name, "removing chains", message);
            return null;
        }

        var script = new IptablesScript(state);
        var removed = new List<string>(2);
        if (script.Remove("nat", options.MasqueradeChain))
        {
            removed.Add("nat " + options.MasqueradeChain);
        }

        // flanneld looks for FLANNEL-FWD in the nat table ([BUG]); the chain lives in filter.
        if (script.Remove("filter", options.ForwardChain))
        {
            removed.Add("filter " + options.ForwardChain);
        }

        if (script.IsEmpty)
        {
            return null;
        }

        await RestoreAsync(family, script.ToString(), cancellationToken).ConfigureAwait(false);
        return string.Join(", ", removed);
    }
}
