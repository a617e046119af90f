using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Flannel.Internal;

/// <summary>
/// Writes JSON text byte-for-byte as Go's encoding/json does: compacted raw messages with HTML-sensitive
/// characters escaped, and Go's string escaping.
/// </summary>
internal static class GoJson
{
    /// <summary>Appends a string literal escaped as Go's json.Marshal escapes it.</summary>
    public static void AppendString(StringBuilder sb, string value)
    {
        sb.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '<': sb.Append("\\u003c"); break;
                case '>': sb.Append("\\u003e"); break;
                case '&': sb.Append("\\u0026"); break;
                case '\u2028': sb.Append("\\u2028"); break;
                case '\u2029': sb.Append("\\u2029"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u00").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                    {
                        sb.Append(c).Append(value[++i]);
                    }
                    else if (char.IsSurrogate(c))
                    {
                        sb.Append("\\ufffd");
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    /// <summary>Appends a JSON value as Go marshals a json.RawMessage: compacted, with &lt; &gt; &amp; U+2028 U+2029 escaped in strings.</summary>
    public static void AppendRaw(StringBuilder sb, JsonElement element)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        var text = Encoding.UTF8.GetString(raw);
        var inString = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!inString)
            {
                if (c is ' ' or '\t' or '\n' or '\r')
                {
                    continue;
                }

                if (c == '"')
                {
                    inString = true;
                }

                sb.Append(c);
                continue;
            }

            switch (c)
            {
                case '\\':
                    sb.Append(c);
                    if (i + 1 < text.Length)
                    {
                        sb.Append(text[++i]);
                    }

                    break;
                case '"':
                    inString = false;
                    sb.Append(c);
                    break;
                case '<': sb.Append("\\u003c"); break;
                case '>': sb.Append("\\u003e"); break;
                case '&': sb.Append("\\u0026"); break;
                case '\u2028': sb.Append("\\u2028"); break;
                case '\u2029': sb.Append("\\u2029"); break;
                default: sb.Append(c); break;
            }
        }
    }

    /// <summary>Finds a property the way Go's decoder does (see <see cref="GoJsonFields"/>): the last matching key wins.</summary>
    public static bool TryGetProperty(JsonElement obj, string name, out JsonElement value) =>
        GoJsonFields.TryGetValue(obj, Encoding.ASCII.GetBytes(name), out value);

    /// <summary>Describes a JSON value's kind for error messages.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        _ => "a value",
    };

    /// <summary>The value's text for error messages, shortened.</summary>
    public static string Excerpt(JsonElement value)
    {
        var text = value.ValueKind == JsonValueKind.String ? value.GetString() ?? string.Empty : value.GetRawText();
        return text.Length > 80 ? string.Concat(text.AsSpan(0, 77), "...") : text;
    }

    /// <summary>True when the input holds nothing but JSON whitespace.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> json) => json.Trim(" \t\r\n"u8).IsEmpty;

    /// <summary>
    /// A JSON syntax error for people: "at line L, byte B: reason", without System.Text.Json's advice to developers
    /// ("Change the reader options", "isFinalBlock") and its repeated zero-based position.
    /// </summary>
    public static string DescribeSyntaxError(JsonException ex)
    {
        var reason = ex.Message;
        var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0)
        {
            reason = reason[..cut];
        }

        reason = reason
            .Replace(" which is not supported in this mode. Change the reader options.", " (JSON allows none).", StringComparison.Ordinal)
            .Replace(" Change the reader options.", string.Empty, StringComparison.Ordinal)
            .Replace(", when isFinalBlock is true", string.Empty, StringComparison.Ordinal)
            .Replace(" when isFinalBlock is true", string.Empty, StringComparison.Ordinal)
            .Trim();
        return $"at line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}: {reason}";
    }
}
