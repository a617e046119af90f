using System.Net.NetworkInformation;
using System.Text;
using System.Text.Json;

namespace Flannel.Vxlan;

/// <summary>
/// The local state file that keeps VTEP MACs stable across restarts whatever the lease store:
/// <c>{"VtepMAC":"…","VtepV6MAC":"…"}</c>, written atomically (temporary file + rename).
/// </summary>
internal sealed class VtepState
{
    private VtepState(string? path) => Path = path;

    public string? Path { get; }

    public PhysicalAddress? Mac { get; set; }

    public PhysicalAddress? V6Mac { get; set; }

    /// <summary>Loads the state; a missing file is an empty state, an unreadable one is reported through <paramref name="problem"/>.</summary>
    public static VtepState Load(string? directory, string instance, uint vni, out string? problem)
    {
        problem = null;
        if (directory is null)
        {
            return new VtepState(null);
        }

        var safeInstance = string.Concat(instance.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        var state = new VtepState(System.IO.Path.Combine(directory, $"vxlan-{safeInstance}-{vni}.json"));
        try
        {
            if (!File.Exists(state.Path))
            {
                return state;
            }

            using var doc = JsonDocument.Parse(File.ReadAllBytes(state.Path));
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.String && VtepData.TryParseMac(p.Value.GetString(), out var mac))
                {
                    if (p.NameEquals("VtepMAC"))
                    {
                        state.Mac = mac;
                    }
                    else if (p.NameEquals("VtepV6MAC"))
                    {
                        state.V6Mac = mac;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            problem = $"{state.Path}: {ex.Message}";
        }

        return state;
    }

    /// <summary>Writes the state; returns a problem description instead of throwing (the MAC is still published).</summary>
    public string? TrySave()
    {
        if (Path is null)
        {
            return null;
        }

        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            var sb = new StringBuilder("{");
            if (Mac is not null)
            {
                sb.Append("\"VtepMAC\":\"").Append(VtepData.FormatMac(Mac)).Append('"');
            }

            if (V6Mac is not null)
            {
                sb.Append(Mac is null ? string.Empty : ",").Append("\"VtepV6MAC\":\"").Append(VtepData.FormatMac(V6Mac)).Append('"');
            }

            sb.Append("}\n");
            var tmp = Path + ".tmp";
            File.WriteAllText(tmp, sb.ToString());
            File.Move(tmp, Path, overwrite: true);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{Path}: {ex.Message}";
        }
    }
}
