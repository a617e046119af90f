using System.Buffers;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Flannel.Internal;

namespace Flannel;

public sealed partial record LeaseAttributes
{
    /// <summary>
    /// Reads a lease value (flannel's <c>LeaseAttrs</c> JSON) with Go's rules: field names match case-insensitively,
    /// unknown fields are ignored, <c>"PublicIP":"0.0.0.0"</c> (Go's zero value) means no IPv4 endpoint.
    /// </summary>
    /// <param name="utf8Json">The value bytes as stored.</param>
    /// <returns>The attributes.</returns>
    /// <exception cref="LeaseFormatException">The value is not valid lease JSON; the message names the field and the problem.</exception>
    public static LeaseAttributes Parse(ReadOnlySpan<byte> utf8Json)
    {
        // The document lives only while the fields are read (backend data is cloned out), so it can parse from a
        // pooled copy: reading a snapshot of many leases allocates little more than the leases themselves.
        var pooled = ArrayPool<byte>.Shared.Rent(Math.Max(utf8Json.Length, 1));
        try
        {
            utf8Json.CopyTo(pooled);
            return Parse(pooled.AsMemory(0, utf8Json.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pooled);
        }
    }

    private static LeaseAttributes Parse(ReadOnlyMemory<byte> utf8Json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8Json);
        }
        catch (JsonException ex)
        {
            throw new LeaseFormatException(GoJson.IsBlank(utf8Json.Span) ? "lease value is empty, not JSON" : $"lease value is not valid JSON {GoJson.DescribeSyntaxError(ex)}", ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new LeaseFormatException($"lease value must be a JSON object, not {GoJson.Describe(root)}");
            }

            // One pass over the keys, as Go's decoder makes: a key that matches a field (case-insensitively) sets it,
            // the last one wins, unknown keys are ignored.
            JsonElement? publicIP = null, publicIPv6 = null, backendType = null, backendData = null, backendV6Data = null;
            foreach (var p in root.EnumerateObject())
            {
                if (GoJsonFields.Matches(p, "PublicIP"u8))
                {
                    publicIP = p.Value;
                }
                else if (GoJsonFields.Matches(p, "PublicIPv6"u8))
                {
                    publicIPv6 = p.Value;
                }
                else if (GoJsonFields.Matches(p, "BackendType"u8))
                {
                    backendType = p.Value;
                }
                else if (GoJsonFields.Matches(p, "BackendData"u8))
                {
                    backendData = p.Value;
                }
                else if (GoJsonFields.Matches(p, "BackendV6Data"u8))
                {
                    backendV6Data = p.Value;
                }
            }

            return new LeaseAttributes
            {
                PublicIP = ReadAddress(publicIP, "PublicIP", ipv6: false),
                PublicIPv6 = ReadAddress(publicIPv6, "PublicIPv6", ipv6: true),
                BackendType = ReadString(backendType, "BackendType"),
                BackendData = backendData?.Clone(),
                BackendV6Data = backendV6Data?.Clone(),
            };
        }
    }

    /// <summary>Reads a lease value from text; see <see cref="Parse(ReadOnlySpan{byte})"/>.</summary>
    /// <param name="json">The value text.</param>
    /// <returns>The attributes.</returns>
    /// <exception cref="LeaseFormatException">The value is not valid lease JSON.</exception>
    public static LeaseAttributes Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var pooled = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(json, pooled);
            return Parse(pooled.AsMemory(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pooled);
        }
    }

    /// <summary>
    /// Writes the lease value exactly as flanneld does: fields in the order PublicIP, PublicIPv6, BackendType
    /// (omitted when empty), BackendData, BackendV6Data (omitted when absent), raw backend data compacted.
    /// </summary>
    /// <returns>The JSON text, for example <c>{"PublicIP":"10.0.0.7","PublicIPv6":null,"BackendType":"host-gw"}</c>.</returns>
    public string ToJson()
    {
        var sb = new StringBuilder(128);
        sb.Append("{\"PublicIP\":\"").Append(PublicIP is null ? "0.0.0.0" : IPText.Format(PublicIP)).Append("\",\"PublicIPv6\":");
        if (PublicIPv6 is null)
        {
            sb.Append("null");
        }
        else
        {
            sb.Append('"').Append(IPText.Format(PublicIPv6)).Append('"');
        }

        if (!string.IsNullOrEmpty(BackendType))
        {
            sb.Append(",\"BackendType\":");
            GoJson.AppendString(sb, BackendType);
        }

        if (BackendData is { } data)
        {
            sb.Append(",\"BackendData\":");
            GoJson.AppendRaw(sb, data);
        }

        if (BackendV6Data is { } v6Data)
        {
            sb.Append(",\"BackendV6Data\":");
            GoJson.AppendRaw(sb, v6Data);
        }

        return sb.Append('}').ToString();
    }

    /// <summary>The lease value as UTF-8 bytes; see <see cref="ToJson"/>.</summary>
    /// <returns>The bytes to store.</returns>
    public byte[] ToUtf8Json() => Encoding.UTF8.GetBytes(ToJson());

    /// <summary>
    /// Compares by value: addresses, backend type (null and empty are the same) and backend data as JSON
    /// (<see cref="JsonElement.DeepEquals"/>).
    /// </summary>
    /// <param name="other">The other attributes.</param>
    /// <returns>True when both publish the same thing.</returns>
    public bool Equals(LeaseAttributes? other) =>
        other is not null
        && Equals(PublicIP, other.PublicIP)
        && Equals(PublicIPv6, other.PublicIPv6)
        && string.Equals(BackendType ?? string.Empty, other.BackendType ?? string.Empty, StringComparison.Ordinal)
        && JsonEquals(BackendData, other.BackendData)
        && JsonEquals(BackendV6Data, other.BackendV6Data);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(PublicIP, PublicIPv6, BackendType ?? string.Empty, BackendData?.ValueKind, BackendV6Data?.ValueKind);

    private static bool JsonEquals(JsonElement? a, JsonElement? b) =>
        a is null ? b is null : b is not null && JsonElement.DeepEquals(a.Value, b.Value);

    private static IPAddress? ReadAddress(JsonElement? value, string name, bool ipv6)
    {
        if (value is not { } v || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.String)
        {
            throw new LeaseFormatException($"lease value field {name} must be a string holding an {(ipv6 ? "IPv6" : "IPv4")} address, not {GoJson.Describe(v)} ({GoJson.Excerpt(v)})");
        }

        // An address is short ASCII: read it from the document's bytes without making a string.
        Span<char> buffer = stackalloc char[64];
        scoped ReadOnlySpan<char> text;
        var raw = JsonMarshal.GetRawUtf8Value(v);
        if (raw is [(byte)'"', .. var inner, (byte)'"'] && inner.Length <= buffer.Length && inner.IndexOf((byte)'\\') < 0
            && Ascii.ToUtf16(inner, buffer, out var written) == OperationStatus.Done)
        {
            text = buffer[..written];
        }
        else
        {
            text = v.GetString();
        }

        if (ipv6)
        {
            return IPText.TryParseIPv6(text, out var a6)
                ? a6
                : throw new LeaseFormatException($"lease value field {name}: \"{text}\" is not an IPv6 address");
        }

        if (!IPText.TryParseIPv4(text, out var a4))
        {
            throw new LeaseFormatException($"lease value field {name}: \"{text}\" is not an IPv4 address");
        }

        return a4.Equals(IPAddress.Any) ? null : a4;
    }

    private static string? ReadString(JsonElement? value, string name)
    {
        if (value is not { } v || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.String)
        {
            throw new LeaseFormatException($"lease value field {name} must be a string, not {GoJson.Describe(v)} ({GoJson.Excerpt(v)})");
        }

        // Every lease of a cluster names the same backend: share the common names instead of a string per lease.
        if (v.ValueEquals("vxlan"u8))
        {
            return "vxlan";
        }

        if (v.ValueEquals("host-gw"u8))
        {
            return "host-gw";
        }

        var s = v.GetString();
        return string.IsNullOrEmpty(s) ? null : s;
    }
}
