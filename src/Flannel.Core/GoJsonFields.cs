using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Flannel;

/// <summary>
/// Matches JSON object keys to field names the way Go's <c>encoding/json</c> does when it decodes into a struct,
/// so that values written by flannel (lease attributes, backend data, net-conf.json) read the same here: keys
/// match field names case-insensitively (with Unicode simple folding, so U+212A KELVIN SIGN matches <c>k</c> and
/// U+017F LATIN SMALL LETTER LONG S matches <c>s</c>), and when a key appears more than once the last one wins.
/// </summary>
/// <remarks>Plain ASCII keys are compared on their UTF-8 bytes without allocating.</remarks>
public static class GoJsonFields
{
    /// <summary>Whether <paramref name="property"/>'s key names the Go struct field <paramref name="field"/>.</summary>
    /// <param name="property">The JSON property.</param>
    /// <param name="field">The field name, ASCII as UTF-8 (for example <c>"VtepMAC"u8</c>).</param>
    /// <returns>True when Go would decode this key into the field.</returns>
    public static bool Matches(JsonProperty property, ReadOnlySpan<byte> field)
    {
        var raw = JsonMarshal.GetRawUtf8PropertyName(property);
        if (raw.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7e) < 0 && raw.IndexOf((byte)'\\') < 0)
        {
            return Ascii.EqualsIgnoreCase(raw, field);
        }

        // Escaped or non-ASCII: compare the decoded key, folding the two non-ASCII letters whose fold orbit holds
        // an ASCII letter.
        var name = property.Name;
        if (name.Length != field.Length)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i] switch
            {
                '\u212A' => 'k',
                '\u017F' => 's',
                var other => other,
            };
            if (!char.IsAscii(c) || char.ToLowerInvariant(c) != char.ToLowerInvariant((char)field[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Finds the value Go would decode into the field <paramref name="field"/>: the last matching key's.</summary>
    /// <param name="obj">A JSON object.</param>
    /// <param name="field">The field name, ASCII as UTF-8.</param>
    /// <param name="value">The value of the last matching key.</param>
    /// <returns>True when a key matched; false also when <paramref name="obj"/> is not an object.</returns>
    public static bool TryGetValue(JsonElement obj, ReadOnlySpan<byte> field, out JsonElement value)
    {
        var found = false;
        value = default;
        if (obj.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        foreach (var p in obj.EnumerateObject())
        {
            if (Matches(p, field))
            {
                value = p.Value;
                found = true;
            }
        }

        return found;
    }
}
