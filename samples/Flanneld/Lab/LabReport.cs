using System.Globalization;
using System.Text.Json;

namespace Flanneld.Labs;

/// <summary>The result of <c>lab up</c>: one row per host, one ping result per ordered pod pair.</summary>
internal sealed class LabReport
{
    private readonly string _backend;
    private readonly IReadOnlyList<LabHost> _hosts;
    private readonly IReadOnlyList<PingResult> _pings;
    private readonly TimeSpan _elapsed;
    private readonly string? _keptDirectory;
    private bool _ok;

    public LabReport(string backend, IReadOnlyList<LabHost> hosts, IReadOnlyList<PingResult> pings, TimeSpan elapsed, string? keptDirectory)
    {
        _backend = backend;
        _hosts = hosts;
        _pings = pings;
        _elapsed = elapsed;
        _keptDirectory = keptDirectory;
    }

    /// <summary>
    /// The lab's verdict. Every backend: every host has a lease and subnet.env, subnets are distinct, MTU is set.
    /// Backends with a data path (all but alloc): every pod answered every echo from every other pod, and
    /// vxlan/host-gw hosts have a route to each of the other N-1 subnets.
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

            if (h.Peers is { } p && p != _hosts.Count - 1)
            {
                problems.Add($"{h.Name}: {p} peer routes programmed, expected {_hosts.Count - 1}");
            }
        }

        foreach (var dup in _hosts.Where(h => h.Subnet is not null).GroupBy(h => h.Subnet).Where(g => g.Count() > 1))
        {
            problems.Add($"subnet {dup.Key} leased to {string.Join(" and ", dup.Select(h => h.Name))}");
        }

        foreach (var r in _pings.Where(r => r.Received < r.Sent))
        {
            problems.Add($"{r.From} pod → {r.To} pod ({r.Destination}): {r.Sent - r.Received}/{r.Sent} echoes lost");
        }

        if (_backend != "alloc" && _pings.Count != _hosts.Count * (_hosts.Count - 1))
        {
            problems.Add($"only {_pings.Count} of {_hosts.Count * (_hosts.Count - 1)} pod pairs were pinged");
        }

        _ok = problems.Count == 0;
        return _ok;
    }

    public void WriteTable(TextWriter w)
    {
        string[] head = ["HOST", "PUBLIC IP", "SUBNET", "BACKEND", "MTU", "PEERS", "POD IP", "LOSS", "RTT avg/max"];
        var rows = _hosts.Select(h =>
        {
            var mine = _pings.Where(p => p.From == h.Name).ToList();
            var sent = mine.Sum(p => p.Sent);
            var received = mine.Sum(p => p.Received);
            var answered = mine.Where(p => p.Received > 0).ToList();
            return new[]
            {
                h.Name, h.PublicIP.ToString(), h.Subnet ?? "-", _backend, h.Mtu.ToString(CultureInfo.InvariantCulture),
                h.Peers?.ToString(CultureInfo.InvariantCulture) ?? "-", h.PodIP?.ToString() ?? "-",
                sent == 0 ? "-" : $"{100.0 * (sent - received) / sent:0}% ({received}/{sent})",
                answered.Count == 0 ? "-" : $"{answered.Average(p => p.AverageRttMs):0.000}/{answered.Max(p => p.MaxRttMs):0.000} ms",
            };
        }).ToList();
        var widths = head.Select((c, i) => Math.Max(c.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        w.WriteLine(string.Join("  ", head.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        foreach (var r in rows)
        {
            w.WriteLine(string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }

        var verdict = _backend == "alloc"
            ? "alloc has no data path: checked leases and subnet.env only (no ping)"
            : $"{_pings.Count} pod pairs pinged, {_pings.Sum(p => p.Sent - p.Received)} echoes lost";
        w.WriteLine();
        w.WriteLine($"{(_ok ? "OK" : "FAILED")}: {verdict}; lab up took {_elapsed.TotalSeconds:0.0} s");
    }

    public void WriteJson(Stream stream)
    {
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", _ok);
            w.WriteString("backend", _backend);
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
                var mine = _pings.Where(p => p.From == h.Name).ToList();
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
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("pings");
            foreach (var r in _pings)
            {
                w.WriteStartObject();
                w.WriteString("from", r.From);
                w.WriteString("to", r.To);
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
