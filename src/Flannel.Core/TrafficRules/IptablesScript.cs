using System.Text;

namespace Flannel.TrafficRules;

/// <summary>
/// Builds one <c>iptables-restore --noflush</c> transaction from a snapshot of the current state: installs blocks
/// (declare our chain, which creates or flushes it; delete every copy of the jump; append the jump and the rules, so
/// the block is contiguous and ordered) and removes chains (delete every rule that targets them, flush, delete).
/// Only lines that exist in the snapshot are deleted, so the transaction does not fail on absent rules.
/// </summary>
internal sealed class IptablesScript
{
    private readonly IptablesSnapshot _state;
    private readonly Dictionary<string, List<string>> _tables = new(StringComparer.Ordinal);

    public IptablesScript(IptablesSnapshot state) => _state = state;

    /// <summary>True when there is nothing to run.</summary>
    public bool IsEmpty => _tables.Count == 0;

    /// <summary>Adds the lines that (re)install a block.</summary>
    public void Install(IptablesChainBlock block)
    {
        var lines = Lines(block.Table);
        lines.Add($":{block.Chain} - [0:0]");
        foreach (var existing in _state.Rules(block.Table, block.Hook))
        {
            if (string.Equals(existing, block.JumpSpec, StringComparison.Ordinal))
            {
                lines.Add($"-D {block.Hook} {block.JumpSpec}");
            }
        }

        foreach (var line in block.SaveLines())
        {
            lines.Add(line);
        }
    }

    /// <summary>Adds the lines that remove our chain and every rule that targets it; returns false when there was nothing.</summary>
    public bool Remove(string table, string chain)
    {
        var found = false;
        foreach (var (from, spec) in _state.RulesTargeting(table, chain))
        {
            if (string.Equals(from, chain, StringComparison.Ordinal))
            {
                continue; // a rule in our own chain goes with the flush
            }

            Lines(table).Add($"-D {from} {spec}");
            found = true;
        }

        if (_state.HasChain(table, chain))
        {
            Lines(table).Add($"-F {chain}");
            Lines(table).Add($"-X {chain}");
            found = true;
        }

        return found;
    }

    /// <summary>The transaction text.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var (table, lines) in _tables)
        {
            sb.Append('*').Append(table).Append('\n');
            foreach (var l in lines)
            {
                sb.Append(l).Append('\n');
            }

            sb.Append("COMMIT\n");
        }

        return sb.ToString();
    }

    private List<string> Lines(string table)
    {
        if (!_tables.TryGetValue(table, out var lines))
        {
            lines = [];
            _tables.Add(table, lines);
        }

        return lines;
    }
}
