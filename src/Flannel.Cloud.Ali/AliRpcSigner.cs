using System.Security.Cryptography;
using System.Text;

namespace Flannel.Cloud.Ali;

/// <summary>
/// Alibaba Cloud RPC-style request signing, Signature Version 1.0 (HMAC-SHA1). A pure function of its inputs,
/// split into its stages so that each can be checked against Alibaba's published example.
/// </summary>
internal static class AliRpcSigner
{
    /// <summary>RFC 3986 percent-encoding as Alibaba requires: unreserved characters literal, everything else %XY (upper case).</summary>
    public static string PercentEncode(string value) => Uri.EscapeDataString(value);

    /// <summary>The canonicalized query string: pairs sorted by name in ordinal order, each name and value encoded.</summary>
    public static string CanonicalQuery(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var sorted = parameters.Where(p => p.Key != "Signature").OrderBy(p => p.Key, StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var (name, value) in sorted)
        {
            if (sb.Length > 0)
            {
                sb.Append('&');
            }

            sb.Append(PercentEncode(name)).Append('=').Append(PercentEncode(value));
        }

        return sb.ToString();
    }

    /// <summary>The string to sign: <c>METHOD&amp;%2F&amp;percentEncode(canonical)</c>.</summary>
    public static string StringToSign(string method, string canonicalQuery) =>
        method + "&" + PercentEncode("/") + "&" + PercentEncode(canonicalQuery);

    /// <summary>Base64(HMAC-SHA1(key = secret + "&amp;", data = UTF-8(stringToSign))).</summary>
    public static string Sign(string stringToSign, string accessKeySecret)
    {
        var key = Encoding.UTF8.GetBytes(accessKeySecret + "&");
#pragma warning disable CA5350 // HMAC-SHA1 is what Alibaba's signature version 1.0 mandates; we cannot choose another
        var mac = HMACSHA1.HashData(key, Encoding.UTF8.GetBytes(stringToSign));
#pragma warning restore CA5350
        return Convert.ToBase64String(mac);
    }
}
