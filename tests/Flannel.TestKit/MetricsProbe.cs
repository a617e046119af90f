using System.Diagnostics.Metrics;

namespace Flannel.TestKit;

/// <summary>
/// A meter factory that listens to the meters it creates, and only to those (tests running in parallel create meters
/// of the same name): counters and histograms are summed per series, observable gauges read on demand.
/// </summary>
public sealed class MetricsProbe : IMeterFactory
{
    private readonly MeterListener _listener = new();
    private readonly List<Meter> _meters = [];
    private readonly List<Series> _sums = [];
    private readonly List<Series> _observed = [];

    /// <summary>Starts listening.</summary>
    public MetricsProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == this)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <inheritdoc/>
    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        lock (_meters)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    /// <summary>The sum of a counter's or histogram's measurements over the series carrying all <paramref name="tags"/>.</summary>
    public double Sum(string instrument, params (string Key, string Value)[] tags) => Aggregate(_sums, instrument, tags, s => s.Value);

    /// <summary>How many measurements a histogram recorded over the series carrying all <paramref name="tags"/>.</summary>
    public long Count(string instrument, params (string Key, string Value)[] tags) => (long)Aggregate(_sums, instrument, tags, s => s.Count);

    /// <summary>Reads the observable instruments (gauges and observable counters) now; the sum of the values of the series carrying all <paramref name="tags"/>, or null when none reported.</summary>
    public double? Observe(string instrument, params (string Key, string Value)[] tags)
    {
        lock (_observed)
        {
            _observed.Clear();
        }

        _listener.RecordObservableInstruments();
        lock (_observed)
        {
            return _observed.Any(s => s.Instrument == instrument && s.Has(tags)) ? Aggregate(_observed, instrument, tags, s => s.Value) : null;
        }
    }

    /// <summary>Every series seen so far, as "instrument{k=v,...} value" lines (for failure messages).</summary>
    public string Dump()
    {
        lock (_sums)
        {
            return string.Join("\n", _sums.Select(s => $"{s.Instrument}{{{string.Join(',', s.Tags.Select(t => $"{t.Key}={t.Value}"))}}} {s.Value}"));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _listener.Dispose();
        lock (_meters)
        {
            foreach (var m in _meters)
            {
                m.Dispose();
            }

            _meters.Clear();
        }
    }

    private static double Aggregate(List<Series> list, string instrument, (string Key, string Value)[] tags, Func<Series, double> pick)
    {
        lock (list)
        {
            return list.Where(s => s.Instrument == instrument && s.Has(tags)).Sum(pick);
        }
    }

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        var v = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
        var pairs = new List<(string, string)>(tags.Length);
        foreach (var t in tags)
        {
            pairs.Add((t.Key, Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty));
        }

        pairs.Sort();
        var list = instrument.IsObservable ? _observed : _sums;
        lock (list)
        {
            var series = list.FirstOrDefault(s => s.Instrument == instrument.Name && s.Tags.SequenceEqual(pairs));
            if (series is null)
            {
                series = new Series(instrument.Name, pairs);
                list.Add(series);
            }

            if (instrument.IsObservable)
            {
                series.Value = v; // observable instruments report current values (counters: totals)
            }
            else
            {
                series.Value += v;
            }

            series.Count++;
        }
    }

    private sealed class Series(string instrument, List<(string Key, string Value)> tags)
    {
        public string Instrument { get; } = instrument;

        public List<(string Key, string Value)> Tags { get; } = tags;

        public double Value { get; set; }

        public long Count { get; set; }

        public bool Has((string Key, string Value)[] wanted) => wanted.All(w => Tags.Contains(w));
    }
}
