using System.Text;
using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>
/// nft plumbing shared by <see cref="NftablesTrafficManager"/> and, for its startup clean-up, by
/// <see cref="IptablesTrafficManager"/>: list, apply, probe, delete this instance's tables.
/// </summary>
internal sealed class NftablesBackend(TrafficRuleOptions options, ToolRunner runner, ILogger logger)
{
    private bool? _fullyRandom;

    /// <summary>
    /// <c>nft list table FAMILY NAME</c>: the table as the kernel has it (no handles, no counters), or null when the
    /// table does not exist.
    /// </summary>
    public async Task<string?> ListTableAsync(IpFamily family, CancellationToken cancellationToken)
    {
        var table = options.NftablesTable(family);
        var args = new[] { "list", "table", NftablesScript.Family(family), table };
        var r = await runner.RunAsync(options.NftPath, args, null, cancellationToken).ConfigureAwait(false);
        if (r.ExitCode == 0)
        {
            return r.Stdout;
        }

        if (r.Stderr.Contains("No such file or directory", StringComparison.Ordinal))
        {
            return null;
        }

        var command = options.NftPath + " " + string.Join(' ', args);
        throw new TrafficRuleException($"reading the nftables table {table} failed: '{command}' exited {r.ExitCode}: {r.Stderr.Trim()}", command, r.ExitCode, r.Stderr.Trim());
    }

    /// <summary>The names of the chains in a table listing.</summary>
    public static IReadOnlyList<string> Chains(string listing)
    {
        var chains = new List<string>();
        foreach (var raw in listing.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("chain ", StringComparison.Ordinal) && line.EndsWith('{'))
            {
                chains.Add(line["chain ".Length..^1].Trim());
            }
        }

        return chains;
    }

    /// <summary>Applies a script atomically with <c>nft -f -</c>.</summary>
    public Task ApplyAsync(string script, string what, CancellationToken cancellationToken) =>
        runner.CheckAsync(options.NftPath, ["-f", "-"], script, what, cancellationToken);

    /// <summary>Whether nft and the kernel accept <c>masquerade fully-random</c> (a <c>--check</c> dry run, once).</summary>
    public async Task<bool> FullyRandomAsync(CancellationToken cancellationToken)
    {
        if (_fullyRandom is { } known)
        {
            return known;
        }

        var r = await runner.RunAsync(options.NftPath, ["--check", "-f", "-"], NftablesScript.FullyRandomProbe("fln-probe-fully-random"), cancellationToken).ConfigureAwait(false);
        _fullyRandom = r.ExitCode == 0;
        if (r.ExitCode != 0 && options.FullyRandom)
        {
            var error = r.Stderr.Trim();
            TrafficRulesLog.FeatureUnsupported(logger, options.NftPath, error, "masquerade fully-random");
        }

        return r.ExitCode == 0;
    }

    /// <summary>
    /// Deletes this instance's tables (both families) if present; returns what was deleted, or null when nothing was
    /// there or nft is not installed.
    /// </summary>
    public async Task<string?> DeleteOwnTablesAsync(CancellationToken cancellationToken)
    {
        ToolResult r;
        try
        {
            r = await runner.RunAsync(options.NftPath, ["list", "tables"], null, cancellationToken).ConfigureAwait(false);
        }
        catch (TrafficRuleException ex) when (ex.ToolMissing)
        {
            TrafficRulesLog.Skipped(logger, "nftables", "deleting tables", ex.Message);
            return null;
        }

        if (r.ExitCode != 0)
        {
            var command = options.NftPath + " list tables";
            throw new TrafficRuleException($"listing the nftables tables failed: '{command}' exited {r.ExitCode}: {r.Stderr.Trim()}", command, r.ExitCode, r.Stderr.Trim());
        }

        var present = new HashSet<string>(r.Stdout.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        var script = new StringBuilder();
        var deleted = new List<string>(2);
        foreach (var family in (IpFamily[])[IpFamily.V4, IpFamily.V6])
        {
            var f = NftablesScript.Family(family);
            var table = options.NftablesTable(family);
            if (present.Contains($"table {f} {table}"))
            {
                script.Append(NftablesScript.DeleteTable(family, table));
                deleted.Add($"table {f} {table}");
            }
        }

        if (deleted.Count == 0)
        {
            return null;
        }

        await ApplyAsync(script.ToString(), "deleting the nftables tables", cancellationToken).ConfigureAwait(false);
        return string.Join(", ", deleted);
    }
}
