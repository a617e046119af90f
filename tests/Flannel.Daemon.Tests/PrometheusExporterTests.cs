using System.Diagnostics.Metrics;
using Flanneld;
using Xunit;

namespace Flannel.Daemon.Tests;

public class PrometheusExporterTests
{
    [Fact]
    public void Renders_counters_gauges_and_histograms_in_the_text_format()
    {
        using var exporter = new PrometheusExporter();
        using var meter = new Meter("Flannel.ExporterTest." + Guid.NewGuid().ToString("N"));
        var events = meter.CreateCounter<long>("flannel.test.events", description: "Events\nby kind");
        var latency = meter.CreateHistogram<double>("flannel.test.latency", unit: "s");
        var bytes = meter.CreateCounter<long>("flannel.test.bytes", unit: "By");
        bytes.Add(1500);
        var peers = 0;
        meter.CreateObservableGauge("flannel.test.peers", () => peers);
        using var other = new Meter("Other.Library");
        other.CreateCounter<long>("other.events").Add(5);

        for (var i = 0; i < 1000; i++)
        {
            events.Add(1, new KeyValuePair<string, object?>("kind", "PeerAdded"));
        }

        // The same tags in another order are the same series.
        events.Add(2, new("kind", "LeaseAcquired"), new("node", "a\"b"));
        events.Add(3, new("node", "a\"b"), new("kind", "LeaseAcquired"));
        latency.Record(0.25);
        latency.Record(0.5);
        peers = 7;

        var text = exporter.Render();
        Assert.Equal(
            """
            # TYPE flannel_test_bytes_total counter
            flannel_test_bytes_total 1500
            # HELP flannel_test_events_total Events by kind
            # TYPE flannel_test_events_total counter
            flannel_test_events_total{kind="LeaseAcquired",node="a\"b"} 5
            flannel_test_events_total{kind="PeerAdded"} 1000
            # TYPE flannel_test_latency_seconds summary
            flannel_test_latency_seconds_count 2
            flannel_test_latency_seconds_sum 0.75
            # TYPE flannel_test_peers gauge
            flannel_test_peers 7

            """.ReplaceLineEndings("\n"),
            Only(text, "flannel_test_"));
        Assert.DoesNotContain("other_events", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gone_or_silent_instrument_is_not_exported_and_same_series_of_two_meters_add_up()
    {
        using var exporter = new PrometheusExporter();
        var name = "Flannel.ExporterTest2." + Guid.NewGuid().ToString("N");
        using var a = new Meter(name);
        var b = new Meter(name);
        a.CreateCounter<long>("flannel.test2.requests").Add(2, new KeyValuePair<string, object?>("op", "RTM_NEWROUTE"));
        b.CreateCounter<long>("flannel.test2.requests").Add(3, new KeyValuePair<string, object?>("op", "RTM_NEWROUTE"));
        var reporting = true;
        b.CreateObservableGauge("flannel.test2.peers", () => reporting ? [new Measurement<int>(4)] : Array.Empty<Measurement<int>>());

        var text = Only(exporter.Render(), "flannel_test2_");
        Assert.Contains("flannel_test2_requests_total{op=\"RTM_NEWROUTE\"} 5\n", text, StringComparison.Ordinal);
        Assert.Contains("flannel_test2_peers 4\n", text, StringComparison.Ordinal);

        reporting = false;
        Assert.DoesNotContain("flannel_test2_peers 4", exporter.Render(), StringComparison.Ordinal);

        // The second meter goes away (its network was removed): only the first one's count is left.
        b.Dispose();
        Assert.Contains("flannel_test2_requests_total{op=\"RTM_NEWROUTE\"} 2\n", exporter.Render(), StringComparison.Ordinal);
    }

    // The exporter sees every Flannel meter of the process; keep this test's lines (and their HELP/TYPE lines).
    private static string Only(string text, string prefix) =>
        string.Concat(text.Split('\n').Where(l => l.Length > 0 && (l.StartsWith(prefix, StringComparison.Ordinal) || l.StartsWith("# HELP " + prefix, StringComparison.Ordinal) || l.StartsWith("# TYPE " + prefix, StringComparison.Ordinal))).Select(l => l + "\n"));
}
