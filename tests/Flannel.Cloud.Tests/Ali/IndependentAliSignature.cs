using System.Security.Cryptography;
using System.Text;

namespace Flannel.Cloud.Tests.Ali;

/// <summary>
/// A second, separately written implementation of Alibaba's RPC signature v1.0, used by the fake server to verify
/// requests. It differs from the library's signer on purpose: it encodes byte by byte with its own table (no
/// Uri.EscapeDataString), sorts by UTF-8 bytes, and builds the string to sign directly in its double-encoded form
/// (each name and value encoded twice, joined with %3D and %26) instead of encoding a canonical query once more.
/// </summary>
public static class IndependentAliSignature
{
    private const string Hex = "0123456789ABCDEF";

    public static string Encode(string text)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var unreserved = b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9'
                || b == (byte)'-' || b == (byte)'_' || b == (byte)'.' || b == (byte)'~';
            if (unreserved)
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(Hex[b >> 4]).Append(Hex[b & 0xF]);
            }
        }

        return sb.ToString();
    }

    public static string Decode(string text)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '%' && i + 2 < text.Length)
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (text[i] == '+')
            {
                bytes.Add((byte)' ');
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public static string StringToSign(string method, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var sorted = parameters.Where(p => p.Key != "Signature").ToList();
        sorted.Sort((a, b) => CompareBytes(Encoding.UTF8.GetBytes(a.Key), Encoding.UTF8.GetBytes(b.Key)));
        var pairs = sorted.Select(p => Encode(Encode(p.Key)) + "%3D" + Encode(Encode(p.Value)));
        return method + "&%2F&" + string.Join("%26", pairs);
    }

    public static string Signature(string stringToSign, string secret)
    {
        using var hmac = new HMACSHA1(Encoding.UTF8.GetBytes(secret + "&"));
        return Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(stringToSign)));
    }

    private static int CompareBytes(byte[] a, byte[] b)
    {
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            if (a[i] != b[i])
            {
                return a[i].CompareTo(b[i]);
            }
        }

        return a.Length.CompareTo(b.Length);
    }
}
