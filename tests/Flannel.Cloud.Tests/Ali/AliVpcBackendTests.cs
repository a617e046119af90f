using Flannel.Cloud.Ali;
using Flannel.Cloud.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Flannel.Cloud.Tests.Ali;

public sealed class AliVpcBackendTests
{
    private static void AssertNoSecret(AliHarness h, Exception? ex = null)
    {
        Assert.DoesNotContain(AliHarness.Secret, h.Logs.AllText, StringComparison.Ordinal);
        if (ex is not null)
        {
            Assert.DoesNotContain(AliHarness.Secret, ex.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task First_start_creates_the_entry_and_waits_until_Available()
    {
        await using var h = new AliHarness();
        await using var network = await h.RegisterAsync();

        var entry = Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
        Assert.Equal(("10.24.1.0/24", "i-self", "Available"), (entry.Destination, entry.NextHopId, entry.Status));
        Assert.Equal(1500, network.Mtu);
        Assert.Equal(h.Subnet, network.Lease.Subnet);
        var attrs = Assert.Single(h.SubnetManager!.Requests).Attributes;
        Assert.Equal("192.168.0.10", attrs.PublicIP?.ToString());
        Assert.Null(attrs.BackendType);
        Assert.Null(attrs.BackendData);

        var actions = h.Vpc.Actions.ToList();
        Assert.Equal(["DescribeRouteTableList", "DescribeRouteEntryList", "DescribeRouteEntryList", "CreateRouteEntry"], actions.Take(4));
        Assert.All(actions.Skip(4), a => Assert.Equal("DescribeRouteEntryList", a));
        var create = h.Vpc.Calls.Single(c => c.Action == "CreateRouteEntry").Params;
        Assert.Equal("cn-hangzhou", create["RegionId"]);
        Assert.Equal("Instance", create["NextHopType"]);
        Assert.Equal("vtb-system", create["RouteTableId"]);
        Assert.StartsWith("flannel-", create["ClientToken"], StringComparison.Ordinal);

        // hardened metadata: a token was fetched and every read carried it
        var meta = h.MetadataServer.Requests.ToList();
        Assert.Equal("PUT", meta[0].Method);
        Assert.All(meta.Skip(1), r => Assert.Equal(h.Metadata.Token, r.Header("X-aliyun-ecs-metadata-token")));
        AssertNoSecret(h);
    }

    [Fact]
    public async Task Restart_with_the_entry_in_place_writes_nothing()
    {
        await using var h = new AliHarness();
        h.Vpc.Table("vtb-system").Entries.Add(new FakeAliEntry { Destination = "10.24.1.0/24", NextHopId = "i-self" });
        await using var network = await h.RegisterAsync();

        Assert.DoesNotContain("CreateRouteEntry", h.Vpc.Actions);
        Assert.DoesNotContain("DeleteRouteEntry", h.Vpc.Actions);
        Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
    }

    [Fact]
    public async Task Our_CIDR_held_by_another_instance_is_deleted_then_recreated()
    {
        await using var h = new AliHarness();
        h.Vpc.Table("vtb-system").Entries.Add(new FakeAliEntry { Destination = "10.24.1.0/24", NextHopId = "i-stale" });
        h.Vpc.Table("vtb-system").Entries.Add(new FakeAliEntry { Destination = "10.24.2.0/24", NextHopId = "i-peer" });
        await using var network = await h.RegisterAsync();

        var delete = h.Vpc.Calls.Single(c => c.Action == "DeleteRouteEntry").Params;
        Assert.Equal(("10.24.1.0/24", "i-stale"), (delete["DestinationCidrBlock"], delete["NextHopId"]));
        var custom = h.Vpc.Table("vtb-system").Entries.Where(e => e.Type == "Custom").OrderBy(e => e.Destination).Select(e => (e.Destination, e.NextHopId)).ToList();
        Assert.Equal([("10.24.1.0/24", "i-self"), ("10.24.2.0/24", "i-peer")], custom);
    }

    [Fact]
    public async Task Stale_entries_to_this_instance_are_removed_but_the_default_route_survives()
    {
        await using var h = new AliHarness();
        var table = h.Vpc.Table("vtb-system");
        table.Entries.Add(new FakeAliEntry { Destination = "10.24.7.0/24", NextHopId = "i-self" });
        table.Entries.Add(new FakeAliEntry { Destination = "0.0.0.0/0", NextHopId = "i-self" });
        table.Entries.Add(new FakeAliEntry { Destination = "10.24.9.0/24", NextHopId = "i-peer" });
        await using var network = await h.RegisterAsync();

        var custom = table.Entries.Where(e => e.Type == "Custom").Select(e => $"{e.Destination}>{e.NextHopId}").Order().ToList();
        Assert.Equal(["0.0.0.0/0>i-self", "10.24.1.0/24>i-self", "10.24.9.0/24>i-peer"], custom);
        Assert.Single(h.Vpc.Calls, c => c.Action == "DeleteRouteEntry" && c.Params["DestinationCidrBlock"] == "10.24.7.0/24");
    }

    [Fact]
    public async Task The_vswitch_bound_custom_table_is_preferred_over_the_system_table()
    {
        await using var h = new AliHarness();
        h.Vpc.Tables.Add(new FakeAliTable { Id = "vtb-custom", Type = "Custom", VSwitchIds = ["vsw-1"] });
        await using var network = await h.RegisterAsync();

        Assert.Single(h.Vpc.Table("vtb-custom").Entries);
        Assert.DoesNotContain(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
    }

    [Fact]
    public async Task TaskConflict_and_IncorrectRouteEntryStatus_are_retried_then_succeed()
    {
        await using var h = new AliHarness();
        h.Vpc.Inject.Add(("CreateRouteEntry", "TaskConflict", 400));
        h.Vpc.Inject.Add(("CreateRouteEntry", "IncorrectRouteEntryStatus", 400));
        await using var network = await h.RegisterAsync();

        var creates = h.Vpc.Calls.Where(c => c.Action == "CreateRouteEntry").ToList();
        Assert.Equal(3, creates.Count);
        Assert.Single(creates.Select(c => c.Params["ClientToken"]).Distinct()); // retries are idempotent on Alibaba's side
        Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom" && e.Status == "Available");
        Assert.Contains("[6605]", h.Logs.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttling_then_success()
    {
        await using var h = new AliHarness();
        h.Vpc.Inject.Add(("DescribeRouteEntryList", "Throttling.User", 400));
        h.Vpc.Inject.Add(("DescribeRouteEntryList", "ServiceUnavailable", 503));
        await using var network = await h.RegisterAsync();
        Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
    }

    [Fact]
    public async Task Busy_codes_past_the_deadline_fail_with_the_last_error()
    {
        await using var h = new AliHarness();
        h.Options.OperationTimeout = TimeSpan.FromMilliseconds(300);
        for (var i = 0; i < 100; i++)
        {
            h.Vpc.Inject.Add(("CreateRouteEntry", "TaskConflict", 400));
        }

        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("CreateRouteEntry", ex.Message, StringComparison.Ordinal);
        Assert.Contains("TaskConflict", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Permission_denied_names_the_RAM_action()
    {
        await using var h = new AliHarness();
        h.Vpc.Inject.Add(("CreateRouteEntry", "Forbidden.RAM", 403));
        var ex = await Assert.ThrowsAsync<AliApiException>(h.RegisterAsync);
        Assert.Equal("Forbidden.RAM", ex.Code);
        Assert.True(ex.IsPermissionDenied);
        Assert.Contains("vpc:CreateRouteEntry", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, h.Vpc.Actions.Count(a => a == "CreateRouteEntry"));
        AssertNoSecret(h, ex);
    }

    [Fact]
    public async Task Quota_exceeded_is_reported_as_a_quota()
    {
        await using var h = new AliHarness();
        h.Vpc.Inject.Add(("CreateRouteEntry", "QuotaExceeded", 400));
        var ex = await Assert.ThrowsAsync<AliApiException>(h.RegisterAsync);
        Assert.Contains("quota", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("50", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_entry_stuck_Pending_times_out_clearly()
    {
        await using var h = new AliHarness();
        h.Vpc.PendingFor = TimeSpan.FromHours(1);
        h.Options.OperationTimeout = TimeSpan.FromMilliseconds(400);
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("timed out", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Available", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metadata_unreachable_fails_before_any_API_call()
    {
        await using var h = new AliHarness();
        h.Options.MetadataEndpoint = LoopbackServer.ClosedPortUri();
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("metadata", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unreachable", ex.Message, StringComparison.Ordinal);
        Assert.Empty(h.Vpc.Calls);
    }

    [Fact]
    public async Task Metadata_normal_mode_is_used_when_the_token_endpoint_is_absent()
    {
        await using var h = new AliHarness();
        h.Metadata.TokenMode = false;
        await using var network = await h.RegisterAsync();
        Assert.All(h.MetadataServer.Requests.Where(r => r.Method == "GET"), r => Assert.Null(r.Header("X-aliyun-ecs-metadata-token")));
        Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
    }

    [Fact]
    public async Task Missing_metadata_key_is_named()
    {
        await using var h = new AliHarness();
        h.Metadata.Values.Remove("vpc-id");
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("'vpc-id'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_API_answer_is_a_clear_error()
    {
        await using var h = new AliHarness();
        h.Vpc.RawAnswers["DescribeRouteTableList"] = "{\"RouterTableList\": {\"RouterTableListType\": 42";
        var ex = await Assert.ThrowsAsync<AliApiException>(h.RegisterAsync);
        Assert.Contains("DescribeRouteTableList", ex.Message, StringComparison.Ordinal);
        Assert.Contains("malformed JSON", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_secret_is_rejected_by_the_verifier_and_never_shown()
    {
        await using var h = new AliHarness();
        h.BackendJson = $$"""{"Type":"ali-vpc","AccessKeyID":"{{AliHarness.AccessKeyId}}","AccessKeySecret":"wrong-{{AliHarness.Secret}}"}""";
        var ex = await Assert.ThrowsAsync<AliApiException>(h.RegisterAsync);
        Assert.Equal("SignatureDoesNotMatch", ex.Code);
        Assert.Contains("[6608]", h.Logs.AllText, StringComparison.Ordinal);
        AssertNoSecret(h, ex);
    }

    [Fact]
    public async Task Missing_credentials_name_both_sources()
    {
        await using var h = new AliHarness();
        h.BackendJson = """{"Type":"ali-vpc"}""";
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(h.RegisterAsync);
        Assert.Contains("ACCESS_KEY_ID", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AccessKeyID", ex.Message, StringComparison.Ordinal);
        Assert.Empty(h.Vpc.Calls);
    }

    [Fact]
    public async Task Credentials_fall_back_to_the_injected_environment()
    {
        await using var h = new AliHarness();
        h.BackendJson = """{"Type":"ali-vpc","AccessKeyID":"only-id"}""";
        var env = new Dictionary<string, string> { ["ACCESS_KEY_ID"] = AliHarness.AccessKeyId, ["ACCESS_KEY_SECRET"] = AliHarness.Secret };
        h.Options.EnvironmentVariableReader = name => env.GetValueOrDefault(name);
        await using var network = await h.RegisterAsync();
        Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
        Assert.Contains("environment ACCESS_KEY_ID/ACCESS_KEY_SECRET", h.Logs.AllText, StringComparison.Ordinal);
        AssertNoSecret(h);
    }

    [Fact]
    public async Task A_non_string_secret_is_a_configuration_error_that_does_not_echo_it()
    {
        await using var h = new AliHarness();
        h.BackendJson = """{"Type":"ali-vpc","AccessKeyID":"x","AccessKeySecret":12345678}""";
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(h.RegisterAsync);
        Assert.Equal("Backend.AccessKeySecret", ex.Field);
        Assert.DoesNotContain("12345678", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_waits_until_cancelled_and_teardown_removes_the_own_entry()
    {
        await using var h = new AliHarness();
        await using var network = await h.RegisterAsync();
        using var cts = new CancellationTokenSource();
        var run = network.RunAsync(cts.Token);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.False(run.IsCompleted);
        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        await network.TeardownAsync(CancellationToken.None);
        Assert.DoesNotContain(h.Vpc.Table("vtb-system").Entries, e => e.Type == "Custom");
    }

    [Fact]
    public void AddAliVpcBackend_registers_one_factory_of_type_ali_vpc()
    {
        var services = new ServiceCollection();
        services.AddAliVpcBackend(o => o.RetryDelay = TimeSpan.FromSeconds(1)).AddAliVpcBackend();
        using var provider = services.BuildServiceProvider();
        var factory = Assert.Single(provider.GetServices<IBackendFactory>());
        Assert.Equal(BackendType.AliVpc, factory.Type);
        Assert.IsType<AliVpcBackendFactory>(factory);
    }
}
