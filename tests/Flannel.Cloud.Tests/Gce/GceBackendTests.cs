using System.Net;
using System.Text.Json.Nodes;
using Flannel.Cloud.Gce;
using Flannel.Cloud.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Flannel.Cloud.Tests.Gce;

public sealed class GceBackendTests
{
    private const string RouteName = "flannel-10-40-1-0-24";

    [Fact]
    public void Route_names_follow_flannel()
    {
        Assert.Equal("flannel-10-244-3-0-24", GceRouteTable.RouteName(IPNetwork.Parse("10.244.3.0/24")));
        Assert.Throws<ArgumentException>(() => GceRouteTable.RouteName(IPNetwork.Parse("fd00::/64")));
    }

    [Fact]
    public async Task First_start_inserts_the_route_and_waits_for_the_operation()
    {
        await using var h = new GceHarness();
        await using var network = await h.RegisterAsync();

        var route = h.Fake.Routes[RouteName];
        Assert.Equal("10.40.1.0/24", (string?)route["destRange"]);
        Assert.Equal(FakeGce.InstanceLink, (string?)route["nextHopInstance"]);
        Assert.Equal(FakeGce.NetworkLink, (string?)route["network"]);
        Assert.Equal(1000, (int?)route["priority"]);
        Assert.Empty(route["tags"]!.AsArray());
        Assert.Equal(1460, network.Mtu);
        Assert.Null(Assert.Single(h.SubnetManager!.Requests).Attributes.BackendType);

        Assert.Equal(
            ["networks.get default", "instances.get node-1", $"routes.get {RouteName}", "routes.insert"],
            h.Fake.Calls.Take(4));
        Assert.Equal(2, h.Fake.Calls.Count(c => c.StartsWith("globalOperations.get", StringComparison.Ordinal)));
        var insert = h.Fake.ComputeRequests.Single(r => r.Call == "routes.insert").Request;
        Assert.StartsWith("requestId=", insert.RawQuery, StringComparison.Ordinal);
        Assert.All(h.Fake.ComputeRequests, r => Assert.Equal("Bearer " + h.Fake.Token, r.Request.Header("Authorization")));
        Assert.All(h.Server.Requests.Where(r => r.Path.StartsWith("/computeMetadata/", StringComparison.Ordinal)), r => Assert.Equal("Google", r.Header("Metadata-Flavor")));
        Assert.Equal(1, h.Fake.TokensIssued);
        h.AssertNoToken();
    }

    [Fact]
    public async Task Restart_with_the_route_in_place_writes_nothing()
    {
        await using var h = new GceHarness();
        h.Fake.Routes[RouteName] = FakeGce.Route(RouteName, "10.40.1.0/24", FakeGce.InstanceLink);
        await using var network = await h.RegisterAsync();

        Assert.DoesNotContain(h.Fake.Calls, c => c.StartsWith("routes.insert", StringComparison.Ordinal) || c.StartsWith("routes.delete", StringComparison.Ordinal));
        Assert.Contains("[6301]", h.Logs.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_route_to_another_instance_is_deleted_waited_for_then_inserted()
    {
        await using var h = new GceHarness();
        h.Fake.Routes[RouteName] = FakeGce.Route(RouteName, "10.40.1.0/24", FakeGce.Link + "zones/us-central1-b/instances/node-9");
        await using var network = await h.RegisterAsync();

        var writes = h.Fake.Calls.Skip(3).Select(c => c.Split(' ')[0]).ToList();
        Assert.Equal(["routes.delete", "globalOperations.get", "globalOperations.get", "routes.insert", "globalOperations.get", "globalOperations.get"], writes);
        Assert.Equal(FakeGce.InstanceLink, (string?)h.Fake.Routes[RouteName]["nextHopInstance"]);
        Assert.Contains("[6303]", h.Logs.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_concurrent_insert_409_is_re_read()
    {
        await using var h = new GceHarness();
        var raced = false;
        h.Fake.BeforeCall = call =>
        {
            if (call == "routes.insert" && !raced)
            {
                raced = true;
                h.Fake.Routes[RouteName] = FakeGce.Route(RouteName, "10.40.1.0/24", FakeGce.InstanceLink);
            }
        };
        await using var network = await h.RegisterAsync();
        Assert.Equal(2, h.Fake.Calls.Count(c => c.StartsWith("routes.get", StringComparison.Ordinal)));
        Assert.Single(h.Fake.Calls, c => c.StartsWith("routes.insert", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Permission_denied_names_the_permission()
    {
        await using var h = new GceHarness();
        h.Fake.Inject.Add(("routes.insert", 403, "forbidden"));
        var ex = await Assert.ThrowsAsync<GceApiException>(h.RegisterAsync);
        Assert.Equal(HttpStatusCode.Forbidden, ex.StatusCode);
        Assert.Equal("compute.routes.create", ex.MissingPermission);
        Assert.Contains("lacks the IAM permission compute.routes.create", ex.Message, StringComparison.Ordinal);
        h.AssertNoToken(ex);
    }

    [Fact]
    public async Task Quota_exceeded_in_the_operation_is_reported_as_quota()
    {
        await using var h = new GceHarness();
        h.Fake.RouteQuota = 0;
        var ex = await Assert.ThrowsAsync<GceApiException>(h.RegisterAsync);
        Assert.True(ex.IsQuotaExceeded);
        Assert.Equal("QUOTA_EXCEEDED", ex.Reason);
        Assert.Contains("route quota", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quota_exceeded_as_an_HTTP_error_is_reported_as_quota()
    {
        await using var h = new GceHarness();
        h.Fake.Inject.Add(("routes.insert", 403, "quotaExceeded"));
        var ex = await Assert.ThrowsAsync<GceApiException>(h.RegisterAsync);
        Assert.True(ex.IsQuotaExceeded);
        Assert.Null(ex.MissingPermission);
    }

    [Fact]
    public async Task Rate_limits_and_5xx_are_retried_then_succeed()
    {
        await using var h = new GceHarness();
        h.Fake.Inject.Add(("routes.get", 429, "rateLimitExceeded"));
        h.Fake.Inject.Add(("routes.get", 403, "userRateLimitExceeded"));
        h.Fake.Inject.Add(("routes.insert", 503, "backendError"));
        await using var network = await h.RegisterAsync();
        Assert.Equal(3, h.Fake.Calls.Count(c => c.StartsWith("routes.get", StringComparison.Ordinal)));
        Assert.Equal(2, h.Fake.Calls.Count(c => c.StartsWith("routes.insert", StringComparison.Ordinal)));
        Assert.True(h.Fake.Routes.ContainsKey(RouteName));
    }

    [Fact]
    public async Task An_operation_that_never_finishes_times_out_after_the_poll_bound()
    {
        await using var h = new GceHarness();
        h.Fake.PollsUntilDone = 1000;
        h.Options.OperationMaxPolls = 4;
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("timed out waiting for operation", ex.Message, StringComparison.Ordinal);
        Assert.Equal(4, h.Fake.Calls.Count(c => c.StartsWith("globalOperations.get", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Metadata_unreachable_is_a_clear_error()
    {
        await using var h = new GceHarness();
        h.Options.MetadataEndpoint = LoopbackServer.ClosedPortUri();
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("metadata server", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unreachable", ex.Message, StringComparison.Ordinal);
        Assert.Empty(h.Fake.Calls);
    }

    [Fact]
    public async Task A_server_without_the_Metadata_Flavor_answer_header_is_not_trusted()
    {
        await using var impostor = LoopbackServer.Start(_ => FakeResponse.Text("proj-1"));
        await using var h = new GceHarness();
        h.Options.MetadataEndpoint = impostor.BaseUri;
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("Metadata-Flavor", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_fake_metadata_server_refuses_requests_without_the_header()
    {
        await using var h = new GceHarness();
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri(h.Server.BaseUri, "/computeMetadata/v1/project/project-id"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Missing_metadata_is_named()
    {
        await using var h = new GceHarness();
        h.Fake.Metadata.Remove("instance/zone");
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("'instance/zone'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("404", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_compute_answer_is_a_clear_error()
    {
        await using var h = new GceHarness();
        h.Fake.RawAnswers["instances.get"] = """{"name":"node-1","selfLink":""";
        var ex = await Assert.ThrowsAsync<GceApiException>(h.RegisterAsync);
        Assert.Contains("instances/node-1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("malformed JSON", ex.Message, StringComparison.Ordinal);
        h.AssertNoToken(ex);
    }

    [Fact]
    public async Task A_refused_token_is_explained_without_showing_it()
    {
        await using var h = new GceHarness();
        h.Options.TokenSource = new FixedTokenSource("ya29.not-the-right-one");
        var ex = await Assert.ThrowsAsync<GceApiException>(h.RegisterAsync);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Contains("access token was refused", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ya29.not-the-right-one", ex.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("ya29.not-the-right-one", h.Logs.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plugged_token_source_replaces_the_metadata_token()
    {
        await using var h = new GceHarness();
        var source = new FixedTokenSource(h.Fake.Token);
        h.Options.TokenSource = source;
        await using var network = await h.RegisterAsync();
        Assert.Equal(0, h.Fake.TokensIssued);
        Assert.True(source.Calls > 0);
        Assert.True(h.Fake.Routes.ContainsKey(RouteName));
    }

    [Fact]
    public async Task An_instance_without_IP_forwarding_gets_a_warning()
    {
        await using var h = new GceHarness();
        h.Fake.CanIpForward = false;
        await using var network = await h.RegisterAsync();
        Assert.Contains("[6306]", h.Logs.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Teardown_deletes_the_route_and_run_waits_for_cancellation()
    {
        await using var h = new GceHarness();
        await using var network = await h.RegisterAsync();
        using var cts = new CancellationTokenSource();
        var run = network.RunAsync(cts.Token);
        Assert.False(run.IsCompleted);
        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await network.TeardownAsync(TestContext.Current.CancellationToken);
        Assert.Empty(h.Fake.Routes);
    }

    [Fact]
    public void AddGceBackend_registers_one_factory_of_type_gce()
    {
        var services = new ServiceCollection();
        services.AddGceBackend().AddGceBackend(o => o.OperationMaxPolls = 10);
        using var provider = services.BuildServiceProvider();
        var factory = Assert.Single(provider.GetServices<IBackendFactory>());
        Assert.Equal(BackendType.Gce, factory.Type);
    }

    private sealed class FixedTokenSource(string token) : IGceTokenSource
    {
        public int Calls { get; private set; }

        public ValueTask<string> GetAccessTokenAsync(CancellationToken cancellationToken)
        {
            Calls++;
            return ValueTask.FromResult(token);
        }
    }
}
