using System.Globalization;
using System.Text.Json;

namespace Flanneld.Labs;

/// <summary>The result of <c>lab up</c>: one row per host, one ping result per ordered pod pair.</summary>
internal sealed class LabReport
{
    private readonly string _name;
    private readonly string _backend;
    private readonly bool _ipv6;
    private readonly IReadOnlyList<LabHost> _hosts;
    private readonly IReadOnlyList<PingResult> _pings;
    private readonly TimeSpan _elapsed;
    private readonly string? _keptDirectory;
    private bool _ok;

    public LabReport(string name, string backend, bool ipv6, IReadOnlyList<LabHost> hosts, IReadOnlyList<PingResult> pings, TimeSpan elapsed, string? keptDirectory)
    {
        _name = name;
        _backend = backend;
        _ipv6 = ipv6;
        _hosts = hosts;
        _pings = pings;
        _elapsed = elapsed;
        _keptDirectory = keptDirectory;
    }

    /// <summary>
    /// The lab's verdict. Every backend: every host has a lease and subnet.env, subnets are distinct, MTU is set.
    /// Backends with a data path (all but alloc): every pod answered every echo from every other pod, and every host
    /// programmed the other N-1 peers (vxlan/host-gw: kernel routes; udp: the forwarder's table behind flannel0).
    /// Dual stack (<c>--ipv6</c>): the same for IPv6 leases, routes and pod addresses.
    /// </summary>
    public bool Check(out List<string> problems)
    {
        problems = [];
        foreach (var h in _hosts)
        {
            if (h.Subnet is null || h.Mtu <= 0)
            {
                problems.Add($"{h.Name}: no lease or MTU in subnet.env");
            }

            if (_backend != "alloc" && h.Subnet is not null && h.Peers != _hosts.Count - 1)
            {
                problems.Add($"{h.Name}: {h.Peers?.ToString(CultureInfo.InvariantCulture) ?? "no"} peers programmed, expected {_hosts.Count - 1}");
            }

            if (_ipv6 && h.IPv6Subnet is null && h.Subnet is not null)
            {
                problems.Add($"{h.Name}: no IPv6 lease in subnet.env although the lab is dual-stack");
            }

            if (_ipv6 && _backend != "alloc" && h.IPv6Subnet is not null && h.PeersV6 != _hosts.Count - 1)
            {
                problems.Add($"{h.Name}: {h.PeersV6?.ToString(CultureInfo.InvariantCulture) ?? "no"} IPv6 peer routes programmed, expected {_hosts.Count - 1}");
            }
        }

        foreach (var dup in _hosts.Where(h => h.Subnet is not null).GroupBy(h => h.Subnet).Where(g => g.Count() > 1))
        {
            problems.Add($"subnet {dup.Key} leased to {string.Join(" and ", dup.Select(h => h.Name))}");
        }

        foreach (var dup in _hosts.Where(h => h.IPv6Subnet is not null).GroupBy(h => h.IPv6Subnet).Where(g => g.Count() > 1))
        {
            problems.Add($"IPv6 subnet {dup.Key} leased to {string.Join(" and ", dup.Select(h => h.Name))}");
        }

        foreach (var r in _pings.Where(r => r.Received < r.Sent))
        {
            problems.Add($"{r.From} pod → {r.To} pod ({r.Destination}): {r.Sent - r.Received}/{r.Sent} echoes lost");
        }

        var expected = _hosts.Count * (_hosts.Count - 1) * (_ipv6 ? 2 : 1);
        if (_backend != "alloc" && _pings.Count != expected)
        {
            problems.Add($"only {_pings.Count} of {expected} pod pairs{(_ipv6 ? " (IPv4 and IPv6)" : string.Empty)} were pinged");
        }

        _ok = problems.Count == 0;
        return _ok;
    }

    public void WriteTable(TextWriter w)
    {
        List<string> head = ["HOST", "PUBLIC IP", "SUBNET", "BACKEND", "MTU", "PEERS", "POD IP", "LOSS", "RTT avg/max"];
        if (_ipv6)
        {
            head.AddRange(["IPv6 SUBNET", "PEERS6", "POD IPv6", "LOSS6", "RTT6 avg/max"]);
        }

        var rows = _hosts.Select(h =>
        {
            var mine = _pings.Where(p => p.From == h.Name).ToList();
            var v4 = mine.Where(p => !p.IsIPv6).ToList();
            var row = new List<string>
            {
                h.Name, h.PublicIP.ToString(), h.Subnet ?? "-", _backend, h.Mtu.ToString(CultureInfo.InvariantCulture),
                h.Peers?.ToString(CultureInfo.InvariantCulture) ?? "-", h.PodIP?.ToString() ?? "-", Loss(v4), Rtt(v4),
            };
            if (_ipv6)
            {
                var v6 = mine.Where(p => p.IsIPv6).ToList();
                row.AddRange([h.IPv6Subnet ?? "-", h.PeersV6?.ToString(CultureInfo.InvariantCulture) ?? "-", h.PodIPv6?.ToString() ?? "-", Loss(v6), Rtt(v6)]);
            }

            return row;
        }).ToList();
        var widths = head.Select((c, i) => Math.Max(c.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        w.WriteLine(string.Join("  ", head.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        foreach (var r in rows)
        {
            w.WriteLine(string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }

        var verdict = _backend == "alloc"
            ? "alloc has no data path: checked leases and subnet.env only (no ping)"
            : _ipv6
                ? $"{_pings.Count(p => !p.IsIPv6)} pod pairs pinged over IPv4 and {_pings.Count(p => p.IsIPv6)} over IPv6, {_pings.Sum(p => p.Sent - p.Received)} echoes lost"
                : $"{_pings.Count} pod pairs pinged, {_pings.Sum(p => p.Sent - p.Received)} echoes lost";
        w.WriteLine();
        var lab = _name == LabName.DefaultValue ? string.Empty : $"lab {_name}: ";
        w.WriteLine($"{(_ok ? "OK" : "FAILED")}: {lab}{verdict}; lab up took {_elapsed.TotalSeconds:0.0} s");

        static string Loss(List<PingResult> pings)
        {
            var sent = pings.Sum(p => p.Sent);
            var received = pings.Sum(p => p.Received);
            return sent == 0 ? "-" : $"{100.0 * (sent - received) / sent:0}% ({received}/{sent})";
        }

        static string Rtt(List<PingResult> pings)
        {
            var answered = pings.Where(p => p.Received > 0).ToList();
            return answered.Count == 0 ? "-" : $"{answered.Average(p => p.AverageRttMs):0.000}/{answered.Max(p => p.MaxRttMs):0.000} ms";
        }
    }

    public void WriteJson(Stream stream)
    {
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", _ok);
            w.WriteString("name", _name);
            w.WriteString("backend", _backend);
            w.WriteBoolean("ipv6", _ipv6);
            w.WriteNumber("nodes", _hosts.Count);
            w.WriteNumber("elapsedSeconds", Math.Round(_elapsed.TotalSeconds, 2));
            w.WriteBoolean("pinged", _backend != "alloc");
            if (_keptDirectory is not null)
            {
                w.WriteString("keptDirectory", _keptDirectory);
            }

            w.WriteStartArray("hosts");
            foreach (var h in _hosts)
            {
                var mine = _pings.Where(p => p.From == h.Name && !p.IsIPv6).ToList();
                w.WriteStartObject();
                w.WriteString("host", h.Name);
                w.WriteString("publicIP", h.PublicIP.ToString());
                WriteOrNull(w, "subnet", h.Subnet);
                w.WriteString("backend", _backend);
                w.WriteNumber("mtu", h.Mtu);
                if (h.Peers is { } p)
                {
                    w.WriteNumber("peers", p);
                }
                else
                {
                    w.WriteNull("peers");
                }

                WriteOrNull(w, "podIP", h.PodIP?.ToString());
                w.WriteNumber("pid", h.Pid);
                w.WriteNumber("healthPort", h.HealthPort);
                w.WriteNumber("sent", mine.Sum(x => x.Sent));
                w.WriteNumber("received", mine.Sum(x => x.Received));
                var sent = mine.Sum(x => x.Sent);
                w.WriteNumber("lossPercent", sent == 0 ? 0 : Math.Round(100.0 * (sent - mine.Sum(x => x.Received)) / sent, 1));
                var answered = mine.Where(x => x.Received > 0).ToList();
                w.WriteNumber("rttAvgMs", answered.Count == 0 ? 0 : Math.Round(answered.Average(x => x.AverageRttMs), 3));
                if (_ipv6)
                {
                    var mine6 = _pings.Where(p => p.From == h.Name && p.IsIPv6).ToList();
                    WriteOrNull(w, "publicIPv6", h.PublicIPv6?.ToString());
                    WriteOrNull(w, "ipv6Subnet", h.IPv6Subnet);
                    if (h.PeersV6 is { } p6)
                    {
                        w.WriteNumber("peersV6", p6);
                    }
                    else
                    {
                        w.WriteNull("peersV6");
                    }

                    WriteOrNull(w, "podIPv6", h.PodIPv6?.ToString());
                    var sent6 = mine6.Sum(x => x.Sent);
                    w.WriteNumber("sentV6", sent6);
                    w.WriteNumber("receivedV6", mine6.Sum(x => x.Received));
                    w.WriteNumber("lossPercentV6", sent6 == 0 ? 0 : Math.Round(100.0 * (sent6 - mine6.Sum(x => x.Received)) / sent6, 1));
                    var answered6 = mine6.Where(x => x.Received > 0).ToList();
                    w.WriteNumber("rttAvgMsV6", answered6.Count == 0 ? 0 : Math.Round(answered6.Average(x => x.AverageRttMs), 3));
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("pings");
            foreach (var r in _pings)
            {
                w.WriteStartObject();
                w.WriteString("from", r.From);
                w.WriteString("to", r.To);
                w.WriteString("family", r.IsIPv6 ? "ipv6" : "ipv4");
                w.WriteString("destination", r.Destination.ToString());
                w.WriteNumber("sent", r.Sent);
                w.WriteNumber("received", r.Received);
                w.WriteNumber("lossPercent", Math.Round(r.LossPercent, 1));
                w.WriteNumber("rttAvgMs", Math.Round(r.AverageRttMs, 3));
                w.WriteNumber("rttMaxMs", Math.Round(r.MaxRttMs, 3));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        stream.Flush();
    }

    private static void WriteOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
