using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Flanneld;

/// <summary>
/// Collects every instrument of the meters whose name starts with "Flannel", and the runtime's own (meter
/// <c>System.Runtime</c>: GC, memory, threads), through a MeterListener and renders them in the Prometheus text
/// exposition format (counters as <c>_total</c>, histograms as count and sum, units By and s as _bytes and _seconds).
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();

    // Per instrument: its exposition name and its series by tag set. Recording a measurement allocates nothing
    // once the series exists (peer events arrive by the thousand when a large cluster is first seen).
    private readonly ConcurrentDictionary<Instrument, InstrumentSeries> _instruments = new();
    private long _collection;

    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("Flannel", StringComparison.Ordinal) || instrument.Meter.Name == "System.Runtime")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));

        // An instrument whose meter is gone (a network removed from the process) stops being exported.
        _listener.MeasurementsCompleted = (instrument, _) => _instruments.TryRemove(instrument, out InstrumentSeries? _);
        _listener.Start();
    }

    public string Render()
    {
        // Observable instruments report now; a series they did not report this time (a network that stopped, a
        // peer set that emptied) is not exported with a stale value.
        var collection = Interlocked.Increment(ref _collection);
        _listener.RecordObservableInstruments();
        var sb = new StringBuilder();
        foreach (var group in _instruments.Values.OrderBy(i => i.Name, StringComparer.Ordinal).GroupBy(i => i.Name))
        {
            var first = group.First();
            var name = group.Key;
            if (first.Description is { Length: > 0 } d)
            {
                sb.Append("# HELP ").Append(name).Append(' ').Append(d.Replace('\n', ' ')).Append('\n');
            }

            sb.Append("# TYPE ").Append(name).Append(' ').Append(first.Type).Append('\n');

            // Series with the same labels from several instruments of one name (two networks' meters from one
            // factory) are one line: counters and summaries add up, a gauge shows the latest value.
            var series = new SortedDictionary<string, (double Value, long Count)>(StringComparer.Ordinal);
            foreach (var instrument in group)
            {
                lock (instrument)
                {
                    foreach (var s in instrument.Series)
                    {
                        if (instrument.Observable && s.Stamp != collection)
                        {
                            continue;
                        }

                        series[s.Labels] = series.TryGetValue(s.Labels, out var seen) && first.Type != "gauge"
                            ? (seen.Value + s.Value, seen.Count + s.Count)
                            : (s.Value, s.Count);
                    }
                }
            }

            foreach (var (labels, (value, count)) in series)
            {
                if (first.Type == "summary")
                {
                    sb.Append(name).Append("_count").Append(labels).Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                    sb.Append(name).Append("_sum").Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                }
                else
                {
                    sb.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                }
            }
        }

        return sb.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private static double ToDouble<T>(T value)
        where T : struct => value switch
        {
            long l => l,
            int i => i,
            double d => d,
            _ => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        };

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        var v = ToDouble(value);
        var target = _instruments.GetOrAdd(instrument, static i => new InstrumentSeries(i));
        lock (target)
        {
            var s = target.Find(tags);
            s.Stamp = Volatile.Read(ref _collection);
            switch (instrument)
            {
                case Counter<T> or UpDownCounter<T>:
                    s.Value += v;
                    break;
                case Histogram<T>:
                    s.Value += v;
                    s.Count++;
                    break;
                default:
                    s.Value = v;
                    break;
            }
        }
    }

    private static string FormatLabels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var parts = new List<string>(tags.Length);
        foreach (var t in tags)
        {
            var value = Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? string.Empty;
            parts.Add($"{Sanitize(t.Key)}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
        }

        parts.Sort(StringComparer.Ordinal);
        return "{" + string.Join(',', parts) + "}";
    }

    private static string Sanitize(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }

        return sb.ToString();
    }

    // UCUM units as Prometheus names them (the runtime's instruments use By and s); counts in braces add nothing.
    private static string UnitSuffix(string? unit) => unit switch
    {
        null or "" => string.Empty,
        "By" => "_bytes",
        "s" => "_seconds",
        "ms" => "_milliseconds",
        _ when unit.StartsWith('{') => string.Empty,
        _ => "_" + Sanitize(unit),
    };

    /// <summary>One instrument's exposition name, type and series (guarded by locking the instance).</summary>
    private sealed class InstrumentSeries
    {
        public InstrumentSeries(Instrument instrument)
        {
            var (type, suffix) = instrument switch
            {
                Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => ("counter", "_total"),
                Histogram<long> or Histogram<int> or Histogram<double> => ("summary", string.Empty),
                _ => ("gauge", string.Empty),
            };
            Type = type;
            Observable = instrument.IsObservable;
            Description = instrument.Description;
            var name = Sanitize(instrument.Name);
            var unit = UnitSuffix(instrument.Unit);
            Name = (name.EndsWith(unit, StringComparison.Ordinal) ? name : name + unit) + suffix; // flannel.udp.bytes: not _bytes_bytes
        }

        public string Name { get; }

        public string Type { get; }

        /// <summary>Reported on collection (its series count only when reported in the current one).</summary>
        public bool Observable { get; }

        public string? Description { get; }

        public List<Series> Series { get; } = [];

        /// <summary>The series for this tag set, created on first use; tags compare by key and value.</summary>
        public Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var s in Series)
            {
                if (s.Matches(tags))
                {
                    return s;
                }
            }

            // The same tags in another order render the same labels: one series.
            var labels = FormatLabels(tags);
            foreach (var s in Series)
            {
                if (s.Labels == labels)
                {
                    return s;
                }
            }

            var created = new Series(tags.ToArray(), labels);
            Series.Add(created);
            return created;
        }
    }

    private sealed class Series(KeyValuePair<string, object?>[] tags, string labels)
    {
        public string Labels { get; } = labels;

        public double Value { get; set; }

        public long Count { get; set; }

        /// <summary>The collection in which the series was last recorded.</summary>
        public long Stamp { get; set; }

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> other)
        {
            if (other.Length != tags.Length)
            {
                return false;
            }

            for (var i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(tags[i].Key, other[i].Key, StringComparison.Ordinal) || !Equals(tags[i].Value, other[i].Value))
                {
                    return false;
                }
            }

            return true;
        }
    }
}

/// <summary>
/// The daemon's own instruments (meter <c>Flannel.Daemon</c>), fed by the node's state and events, so /metrics
/// answers for every backend: readiness, the lease, peers and node events.
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    private readonly Meter _meter = new("Flannel.Daemon");
    private readonly HashSet<System.Net.IPNetwork> _peers = []; // by primary subnet (IPv4, else IPv6)
    private readonly Counter<long> _events;
    private Flannel.Node.FlannelNode? _node;

    public NodeMetrics()
    {
        _meter.CreateObservableGauge("flannel.node.ready", () => _node?.State == Flannel.Node.NodeState.Ready ? 1 : 0, description: "1 when the node is ready: lease held, rules installed, subnet.env written");
        _meter.CreateObservableGauge("flannel.peers", PeerCount, description: "Peer leases known to the node");
        _meter.CreateObservableGauge("flannel.lease.expiration.timestamp.seconds", LeaseExpiry, description: "When the node's lease expires, in Unix seconds");
        _meter.CreateObservableGauge("flannel.node.info", Info, description: "The node's backend, subnet and public IP (value 1)");
        _events = _meter.CreateCounter<long>("flannel.node.events", description: "Node events by kind (lease acquired/changed/lost, peer added/removed, state changed)");
    }

    public void Attach(Flannel.Node.FlannelNode node)
    {
        _node = node;
        node.EventRaised += OnEvent;
    }

    public void Dispose()
    {
        if (_node is { } n)
        {
            n.EventRaised -= OnEvent;
        }

        _meter.Dispose();
    }

    private void OnEvent(object? sender, Flannel.Node.NodeEvent e)
    {
        _events.Add(1, new KeyValuePair<string, object?>("kind", e.Kind.ToString()));
        if (e.Lease is not { } lease)
        {
            return;
        }

        if ((lease.Subnet ?? lease.IPv6Subnet) is not { } key)
        {
            return;
        }

        lock (_peers)
        {
            switch (e.Kind)
            {
                case Flannel.Node.NodeEventKind.PeerAdded:
                    _peers.Add(key);
                    break;
                case Flannel.Node.NodeEventKind.PeerRemoved:
                    _peers.Remove(key);
                    break;
            }
        }
    }

    private int PeerCount()
    {
        lock (_peers)
        {
            return _peers.Count;
        }
    }

    private IEnumerable<Measurement<double>> LeaseExpiry()
    {
        if (_node?.CurrentLease?.Expiration is { } exp)
        {
            yield return new Measurement<double>(exp.ToUnixTimeMilliseconds() / 1000.0);
        }
    }

    private IEnumerable<Measurement<int>> Info()
    {
        if (_node is { CurrentLease: { } lease } node)
        {
            yield return new Measurement<int>(
                1,
                new KeyValuePair<string, object?>("backend", node.NetworkConfig?.BackendType.Value ?? string.Empty),
                new KeyValuePair<string, object?>("subnet", lease.Subnet?.ToString() ?? string.Empty),
                new KeyValuePair<string, object?>("ipv6_subnet", lease.IPv6Subnet?.ToString() ?? string.Empty),
                new KeyValuePair<string, object?>("public_ip", (lease.Attributes.PublicIP ?? lease.Attributes.PublicIPv6)?.ToString() ?? string.Empty));
        }
    }
}
