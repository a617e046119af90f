using System.Net;
using System.Text.Json;
using Flannel.TestKit;

namespace Flannel.Backends.Tests;

/// <summary>Kernel state read back with iproute2 (<c>ip -j</c>, <c>bridge -j</c>): the independent oracle.</summary>
internal static class KernelOracle
{
    /// <summary>Routes of the main table (optionally on one device) as "dst via gw [onlink] [dev D]" strings.</summary>
    public static SortedSet<string> Routes(TestNamespace ns, bool ipv6 = false, string? dev = null, Func<string, bool>? dstFilter = null)
    {
        List<string> args = [.. ipv6 ? new[] { "-6" } : [], "route", "show", "table", "main"];
        if (dev is not null)
        {
            args.AddRange(["dev", dev]);
        }

        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var r in ns.IpJson([.. args]).EnumerateArray())
        {
            var dst = r.GetProperty("dst").GetString()!;
            if (dstFilter is not null && !dstFilter(dst))
            {
                continue;
            }

            var routeDev = dev ?? (r.TryGetProperty("dev", out var kdev) ? kdev.GetString() : null);
            if (r.TryGetProperty("protocol", out var proto) && proto.GetString() == "kernel" && routeDev?.StartsWith("flannel", StringComparison.Ordinal) == true)
            {
                continue; // the kernel's route for the device's own address: the kernel's, not the backend's
            }

            var gw = r.TryGetProperty("gateway", out var g) ? g.GetString() : null;
            var onlink = r.TryGetProperty("flags", out var f) && f.EnumerateArray().Any(x => x.GetString() == "onlink");
            var d = dev is null && r.TryGetProperty("dev", out var dd) ? " dev " + dd.GetString() : string.Empty;
            set.Add($"{dst} via {gw}{(onlink ? " onlink" : string.Empty)}{d}");
        }

        return set;
    }

    /// <summary>Permanent neighbour entries on a device as "ip lladdr" strings.</summary>
    public static SortedSet<string> Neighbors(TestNamespace ns, string dev, bool ipv6 = false)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var n in ns.IpJson([.. ipv6 ? new[] { "-6" } : ["-4"], "neigh", "show", "dev", dev]).EnumerateArray())
        {
            var permanent = n.TryGetProperty("state", out var s) && s.EnumerateArray().Any(x => x.GetString() == "PERMANENT");
            if (permanent && n.TryGetProperty("lladdr", out var ll))
            {
                set.Add($"{n.GetProperty("dst").GetString()} {ll.GetString()}");
            }
        }

        return set;
    }

    /// <summary>Permanent "self" FDB entries with a destination on a device as "mac dst" strings.</summary>
    public static SortedSet<string> Fdb(TestNamespace ns, string dev)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in ns.BridgeJson("fdb", "show", "dev", dev).EnumerateArray())
        {
            if (!e.TryGetProperty("dst", out var dst))
            {
                continue;
            }

            var self = e.TryGetProperty("flags", out var f) && f.EnumerateArray().Any(x => x.GetString() == "self");
            var permanent = e.TryGetProperty("state", out var s) && s.GetString() == "permanent";
            if (self && permanent)
            {
                set.Add($"{e.GetProperty("mac").GetString()} {dst.GetString()}");
            }
        }

        return set;
    }

    /// <summary>The detailed link (<c>ip -d -j link show</c>), or null when it does not exist.</summary>
    public static JsonElement? Link(TestNamespace ns, string name)
    {
        var (code, o, _) = Shell.Run("ip", ["-n", ns.Name, "-d", "-j", "link", "show", name]);
        if (code != 0)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(o);
        return doc.RootElement[0].Clone();
    }

    /// <summary>Addresses of a device as "ip/prefix" strings.</summary>
    public static SortedSet<string> Addresses(TestNamespace ns, string dev, bool ipv6 = false)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var l in ns.IpJson([.. ipv6 ? new[] { "-6" } : ["-4"], "addr", "show", "dev", dev]).EnumerateArray())
        {
            foreach (var a in l.GetProperty("addr_info").EnumerateArray())
            {
                var local = a.GetProperty("local").GetString()!;
                if (ipv6 && IPAddress.Parse(local).IsIPv6LinkLocal)
                {
                    continue;
                }

                set.Add($"{local}/{a.GetProperty("prefixlen").GetInt32()}");
            }
        }

        return set;
    }
}
