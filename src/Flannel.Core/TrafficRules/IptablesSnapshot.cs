namespace Flannel.TrafficRules;

/// <summary>
/// The parsed output of <c>iptables-save</c> / <c>ip6tables-save</c>: per table, its chains and their rule specs in
/// order (the text after <c>-A CHAIN </c>). One snapshot answers every existence question of a resync, instead of one
/// <c>iptables -C</c> process (and one xtables lock round) per rule.
/// </summary>
internal sealed class IptablesSnapshot
{
    private readonly Dictionary<string, Dictionary<string, List<string>>> _tables = new(StringComparer.Ordinal);

    private IptablesSnapshot()
    {
    }

    /// <summary>The tables present.</summary>
    public IEnumerable<string> Tables => _tables.Keys;

    /// <summary>Parses <c>iptables-save</c> output.</summary>
    /// <exception cref="FormatException">A line is not what iptables-save prints; the message has its number and text.</exception>
    public static IptablesSnapshot Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = new IptablesSnapshot();
        Dictionary<string, List<string>>? table = null;
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r', ' ', '\t');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] == '*')
            {
                var name = line[1..].Trim();
                if (name.Length == 0)
                {
                    throw Bad(lineNumber, line, "a table line needs a name");
                }

                if (!s._tables.TryGetValue(name, out table))
                {
                    table = new Dictionary<string, List<string>>(StringComparer.Ordinal);
                    s._tables.Add(name, table);
                }

                continue;
            }

            if (line == "COMMIT")
            {
                table = null;
                continue;
            }

            if (table is null)
            {
                throw Bad(lineNumber, line, "chain or rule outside a *table … COMMIT section");
            }

            if (line[0] == ':')
            {
                var end = line.IndexOf(' ', StringComparison.Ordinal);
                var chain = end < 0 ? line[1..] : line[1..end];
                if (chain.Length == 0)
                {
                    throw Bad(lineNumber, line, "a chain line needs a name");
                }

                table.TryAdd(chain, []);
                continue;
            }

            if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                var rest = line[3..];
                var end = rest.IndexOf(' ', StringComparison.Ordinal);
                var chain = end < 0 ? rest : rest[..end];
                var spec = end < 0 ? string.Empty : rest[(end + 1)..];
                if (chain.Length == 0)
                {
                    throw Bad(lineNumber, line, "a rule line needs a chain");
                }

                if (!table.TryGetValue(chain, out var rules))
                {
                    rules = [];
                    table.Add(chain, rules);
                }

                rules.Add(spec);
                continue;
            }

            throw Bad(lineNumber, line, "not a table, chain, rule, COMMIT or comment line");
        }

        return s;
    }

    /// <summary>
    /// Builds a snapshot of some chains from <c>iptables -t TABLE -S CHAIN</c> listings (<c>-P</c>/<c>-N</c> line, then
    /// <c>-A</c> lines in the <c>iptables-save</c> form); a null listing means the chain does not exist.
    /// </summary>
    /// <exception cref="FormatException">A line is not what <c>iptables -S</c> prints.</exception>
    public static IptablesSnapshot FromListings(IEnumerable<(string Table, string Chain, string? Listing)> listings)
    {
        var s = new IptablesSnapshot();
        foreach (var (tableName, chainName, listing) in listings)
        {
            if (!s._tables.TryGetValue(tableName, out var table))
            {
                table = new Dictionary<string, List<string>>(StringComparer.Ordinal);
                s._tables.Add(tableName, table);
            }

            if (listing is null)
            {
                continue;
            }

            var rules = new List<string>();
            table[chainName] = rules;
            var lineNumber = 0;
            foreach (var raw in listing.Split('\n'))
            {
                lineNumber++;
                var line = raw.TrimEnd('\r', ' ', '\t');
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var words = line.Split(' ', 3);
                if (words.Length >= 2 && words[0] is "-P" or "-N" && words[1] == chainName)
                {
                    continue;
                }

                if (words.Length >= 2 && words[0] == "-A" && words[1] == chainName)
                {
                    rules.Add(words.Length == 3 ? words[2] : string.Empty);
                    continue;
                }

                throw new FormatException($"iptables -t {tableName} -S {chainName} output line {lineNumber} \"{(line.Length > 200 ? line[..200] + "…" : line)}\": not a -P, -N or -A line of that chain");
            }
        }

        return s;
    }

    /// <summary>True when the table has the chain.</summary>
    public bool HasChain(string table, string chain) => _tables.TryGetValue(table, out var t) && t.ContainsKey(chain);

    /// <summary>The rule specs of a chain in order (empty when the chain is absent).</summary>
    public IReadOnlyList<string> Rules(string table, string chain) =>
        _tables.TryGetValue(table, out var t) && t.TryGetValue(chain, out var r) ? r : [];

    /// <summary>Every rule of a table that jumps or goes to <paramref name="target"/>, with the chain it is in.</summary>
    public IEnumerable<(string Chain, string Spec)> RulesTargeting(string table, string target)
    {
        if (!_tables.TryGetValue(table, out var t))
        {
            yield break;
        }

        foreach (var (chain, rules) in t)
        {
            foreach (var spec in rules)
            {
                if (Targets(spec, target))
                {
                    yield return (chain, spec);
                }
            }
        }
    }

    /// <summary>True when a rule spec's target (<c>-j X</c> or <c>-g X</c>) is <paramref name="target"/>.</summary>
    internal static bool Targets(string spec, string target)
    {
        var tokens = Tokenize(spec);
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (tokens[i] is "-j" or "--jump" or "-g" or "--goto")
            {
                return string.Equals(tokens[i + 1], target, StringComparison.Ordinal);
            }
        }

        return false;
    }

    /// <summary>Splits a rule spec into words, keeping "double quoted" words (comments) whole.</summary>
    internal static List<string> Tokenize(string spec)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < spec.Length)
        {
            if (spec[i] == ' ')
            {
                i++;
                continue;
            }

            var start = i;
            if (spec[i] == '"')
            {
                i++;
                while (i < spec.Length && spec[i] != '"')
                {
                    i += spec[i] == '\\' ? 2 : 1;
                }

                i = Math.Min(i + 1, spec.Length);
            }
            else
            {
                while (i < spec.Length && spec[i] != ' ')
                {
                    i++;
                }
            }

            tokens.Add(spec[start..i]);
        }

        return tokens;
    }

    private static FormatException Bad(int lineNumber, string line, string why) =>
        new($"iptables-save output line {lineNumber} \"{(line.Length > 200 ? line[..200] + "…" : line)}\": {why}");
}
