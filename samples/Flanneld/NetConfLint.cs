using System.Text.Json;

namespace Flanneld;

/// <summary>
/// Finds top-level net-conf.json fields that flanneld (Go's encoding/json) silently ignores, so that a typo such as
/// "Netwrok" or a top-level "BackendType" is named instead of surfacing later as "please define a correct Network
/// parameter" or a defaulted backend. Matching is case-insensitive, as Go's is.
/// </summary>
internal static class NetConfLint
{
    private static readonly string[] Fields =
    [
        "Network", "EnableIPv4", "EnableIPv6", "IPv6Network", "SubnetLen", "SubnetMin", "SubnetMax",
        "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax", "EnableNFTables", "Backend",
    ];

    /// <summary>The unknown top-level fields of a configuration text, each with the field it most likely meant (or null).</summary>
    /// <param name="json">The net-conf.json text; not JSON or not an object gives none (the parser reports that).</param>
    /// <returns>The unknown fields in document order.</returns>
    public static IReadOnlyList<(string Field, string? Meant)> UnknownFields(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return [];
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return [];
            }

            var unknown = new List<(string, string?)>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!Fields.Contains(p.Name, StringComparer.OrdinalIgnoreCase))
                {
                    unknown.Add((p.Name, Meant(p.Name)));
                }
            }

            return unknown;
        }
    }

    /// <summary>One phrase per unknown field: <c>unknown field "Netwrok" is ignored (did you mean "Network"?)</c>.</summary>
    /// <param name="unknown">The fields from <see cref="UnknownFields"/>.</param>
    /// <returns>The phrases joined with "; ".</returns>
    public static string Describe(IReadOnlyList<(string Field, string? Meant)> unknown) =>
        string.Join("; ", unknown.Select(u => $"unknown field \"{u.Field}\" is ignored" + (u.Meant is { } m ? $" (did you mean {m}?)" : string.Empty)));

    private static string? Meant(string name)
    {
        if (name.Equals("BackendType", StringComparison.OrdinalIgnoreCase) || name.Equals("Type", StringComparison.OrdinalIgnoreCase))
        {
            return "\"Backend\": {\"Type\": …}";
        }

        var best = Fields.Select(f => (Field: f, Distance: Distance(name.ToUpperInvariant(), f.ToUpperInvariant()))).MinBy(x => x.Distance);
        return best.Distance <= Math.Max(2, best.Field.Length / 4) ? $"\"{best.Field}\"" : null;
    }

    /// <summary>Levenshtein distance, with a swap of two neighbours counting as one edit (optimal string alignment).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
