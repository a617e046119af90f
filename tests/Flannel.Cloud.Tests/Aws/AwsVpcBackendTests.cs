using Flannel.Cloud.Aws;
using Flannel.Cloud.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Flannel.Cloud.Tests.Aws;

public sealed class AwsVpcBackendTests
{
    private static string Describe(FakeRouteTable t) => string.Join(", ", t.Routes.Where(r => r.GatewayId != "local").Select(r => $"{r.Destination}>{r.EniId ?? r.InstanceId}:{r.State}").Order());

    [Fact]
    public async Task First_start_finds_the_ENI_cleans_blackholes_and_creates_the_route()
    {
        await using var h = new AwsHarness();
        var table = h.Ec2.Table("rtb-22");
        table.Routes.Add(new FakeEc2Route { Destination = "10.20.9.0/24", EniId = "eni-gone", State = "blackhole" });
        table.Routes.Add(new FakeEc2Route { Destination = "172.16.0.0/24", EniId = "eni-gone2", State = "blackhole" });
        await using var network = await h.RegisterAsync();

        Assert.Equal("10.20.1.0/24>eni-aaa:active, 172.16.0.0/24>eni-gone2:blackhole", Describe(table));
        Assert.Equal("", Describe(h.Ec2.Table("rtb-main")));
        Assert.False(h.Ec2.Enis[0].SourceDestCheck);
        Assert.Equal(9001, network.Mtu);
        var attrs = Assert.Single(h.SubnetManager!.Requests).Attributes;
        Assert.Equal("10.0.1.5", attrs.PublicIP?.ToString());
        Assert.Null(attrs.BackendType);

        Assert.Equal(
            ["DescribeInstances", "ModifyNetworkInterfaceAttribute", "DescribeRouteTables", "DescribeRouteTables", "DeleteRoute", "DescribeRouteTables", "CreateRoute"],
            h.Ec2.Actions);
        var create = h.Ec2.Calls.Single(c => c.Action == "CreateRoute").Form;
        Assert.Equal(("rtb-22", "10.20.1.0/24", "eni-aaa"), (create["RouteTableId"], create["DestinationCidrBlock"], create["NetworkInterfaceId"]));
        Assert.Equal("false", h.Ec2.Calls.Single(c => c.Action == "ModifyNetworkInterfaceAttribute").Form["SourceDestCheck.Value"]);

        // SigV4 with our key and the metadata region; IMDSv2 token before any read
        var auth = h.Ec2Server.Requests.First().Header("authorization")!;
        Assert.Contains($"Credential={AwsHarness.AccessKey}/", auth, StringComparison.Ordinal);
        Assert.Contains("/us-west-2/ec2/aws4_request", auth, StringComparison.Ordinal);
        var imds = h.ImdsServer.Requests.ToList();
        Assert.Equal("PUT", imds[0].Method);
        Assert.Equal(["/latest/meta-data/instance-id", "/latest/meta-data/placement/region"], imds.Skip(1).Select(r => r.Path));
        h.AssertNoSecret();
    }

    [Fact]
    public async Task Restart_with_everything_in_place_only_reads()
    {
        await using var h = new AwsHarness();
        h.Ec2.Enis[0].SourceDestCheck = false;
        h.Ec2.Table("rtb-22").Routes.Add(new FakeEc2Route { Destination = "10.20.1.0/24", EniId = "eni-aaa", InstanceId = "i-0123456789abcdef0" });
        await using var network = await h.RegisterAsync();

        Assert.All(h.Ec2.Actions, a => Assert.StartsWith("Describe", a, StringComparison.Ordinal));
        Assert.Contains("[6001]", h.Logs.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_route_pointing_elsewhere_is_replaced_in_place_without_a_delete()
    {
        await using var h = new AwsHarness();
        h.Ec2.Enis.Add(new FakeEni { Id = "eni-other", PrivateIps = ["10.0.1.77"] });
        h.Ec2.Table("rtb-22").Routes.Add(new FakeEc2Route { Destination = "10.20.1.0/24", EniId = "eni-other" });
        await using var network = await h.RegisterAsync();

        Assert.Contains("ReplaceRoute", h.Ec2.Actions);
        Assert.DoesNotContain("DeleteRoute", h.Ec2.Actions);
        Assert.DoesNotContain("CreateRoute", h.Ec2.Actions);
        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public async Task Our_own_blackholed_route_is_replaced()
    {
        await using var h = new AwsHarness();
        h.Ec2.Table("rtb-22").Routes.Add(new FakeEc2Route { Destination = "10.20.1.0/24", EniId = "eni-aaa", State = "blackhole" });
        await using var network = await h.RegisterAsync();

        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public async Task A_route_created_concurrently_is_replaced_after_RouteAlreadyExists()
    {
        await using var h = new AwsHarness();
        var raced = false;
        h.Ec2.BeforeAction = action =>
        {
            if (action == "CreateRoute" && !raced)
            {
                raced = true;
                h.Ec2.Table("rtb-22").Routes.Add(new FakeEc2Route { Destination = "10.20.1.0/24", InstanceId = "i-racer" });
            }
        };
        await using var network = await h.RegisterAsync();

        Assert.Equal(["CreateRoute", "ReplaceRoute"], h.Ec2.Actions.Where(a => a is "CreateRoute" or "ReplaceRoute"));
        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public async Task Without_a_subnet_association_the_main_table_is_used()
    {
        await using var h = new AwsHarness();
        h.Ec2.Tables.RemoveAll(t => t.Id == "rtb-22");
        await using var network = await h.RegisterAsync();

        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-main")));
        var describes = h.Ec2.Calls.Where(c => c.Action == "DescribeRouteTables").Take(2).Select(c => c.Form).ToList();
        Assert.Equal("association.subnet-id", describes[0]["Filter.1.Name"]);
        Assert.Equal(("association.main", "vpc-id", "vpc-0a1b2c3d"), (describes[1]["Filter.1.Name"], describes[1]["Filter.2.Name"], describes[1]["Filter.2.Value.1"]));
    }

    [Fact]
    public async Task No_table_at_all_is_a_clear_error()
    {
        await using var h = new AwsHarness();
        h.Ec2.Tables.Clear();
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("RouteTableID", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RouteTableID_as_a_string_or_an_array_programs_exactly_those_tables()
    {
        await using var h = new AwsHarness();
        h.Ec2.Tables.Add(new FakeRouteTable { Id = "rtb-33" });
        h.BackendJson = """{"Type":"aws-vpc","RouteTableID":["rtb-main","rtb-33"]}""";
        await using var network = await h.RegisterAsync();

        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-main")));
        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-33")));
        Assert.Equal("", Describe(h.Ec2.Table("rtb-22")));
        Assert.DoesNotContain(h.Ec2.Calls, c => c.Form.ContainsKey("Filter.1.Name") && c.Form["Filter.1.Name"].StartsWith("association", StringComparison.Ordinal));

        await using var h2 = new AwsHarness();
        h2.BackendJson = """{"Type":"aws-vpc","RouteTableID":"rtb-main"}""";
        await using var network2 = await h2.RegisterAsync();
        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h2.Ec2.Table("rtb-main")));
    }

    [Theory]
    [InlineData("""{"Type":"aws-vpc","RouteTableID":42}""", "Backend.RouteTableID", "Number")]
    [InlineData("""{"Type":"aws-vpc","RouteTableID":{"a":1}}""", "Backend.RouteTableID", "Object")]
    [InlineData("""{"Type":"aws-vpc","RouteTableID":["rtb-1",7]}""", "Backend.RouteTableID[1]", "Number")]
    [InlineData("""{"Type":"aws-vpc","RouteTableID":[]}""", "Backend.RouteTableID", "at least one")]
    [InlineData("""{"Type":"aws-vpc","RouteTableID":"subnet-1"}""", "Backend.RouteTableID", "rtb-")]
    public async Task A_bad_RouteTableID_is_a_configuration_error_before_anything_happens(string json, string field, string fragment)
    {
        await using var h = new AwsHarness();
        h.BackendJson = json;
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(h.RegisterAsync);
        Assert.Equal(field, ex.Field);
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        Assert.Empty(h.SubnetManager!.Requests);
        Assert.Empty(h.Ec2.Calls);
    }

    [Fact]
    public async Task Missing_permission_names_the_IAM_action()
    {
        await using var h = new AwsHarness();
        h.Ec2.Inject.Add(("CreateRoute", "UnauthorizedOperation", 403));
        var ex = await Assert.ThrowsAsync<AwsApiException>(h.RegisterAsync);
        Assert.True(ex.IsPermissionDenied);
        Assert.Equal("CreateRoute", ex.Action);
        Assert.Contains("\"ec2:CreateRoute\"", ex.Message, StringComparison.Ordinal);
        Assert.Equal("ae1b7d8f-0000-0000-0000-000000000000", ex.RequestId);
        h.AssertNoSecret(ex);
    }

    [Fact]
    public async Task A_refused_source_dest_check_change_is_only_a_warning()
    {
        await using var h = new AwsHarness();
        h.Ec2.Inject.Add(("ModifyNetworkInterfaceAttribute", "UnauthorizedOperation", 403));
        await using var network = await h.RegisterAsync();
        Assert.Contains("[6005]", h.Logs.AllText, StringComparison.Ordinal);
        Assert.Contains("ec2:ModifyNetworkInterfaceAttribute", h.Logs.AllText, StringComparison.Ordinal);
        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public async Task Route_limit_is_reported_as_the_table_quota()
    {
        await using var h = new AwsHarness();
        h.Ec2.RouteLimit = 2;
        h.Ec2.Table("rtb-22").Routes.Add(new FakeEc2Route { Destination = "10.20.5.0/24", EniId = "eni-x" });
        h.Ec2.Table("rtb-22").Routes.Add(new FakeEc2Route { Destination = "10.20.6.0/24", EniId = "eni-y" });
        var ex = await Assert.ThrowsAsync<AwsApiException>(h.RegisterAsync);
        Assert.Equal("RouteLimitExceeded", ex.Code);
        Assert.Contains("Routes per route table", ex.Message, StringComparison.Ordinal);
        Assert.Contains("rtb-22", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("50", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttling_is_retried_with_backoff_then_succeeds()
    {
        await using var h = new AwsHarness();
        h.Ec2.Inject.Add(("CreateRoute", "RequestLimitExceeded", 503));
        h.Ec2.Inject.Add(("CreateRoute", "Throttling", 400));
        await using var network = await h.RegisterAsync();
        Assert.Equal(3, h.Ec2.Actions.Count(a => a == "CreateRoute"));
        Assert.Equal(2, h.Logs.Lines.Count(l => l.Contains("[6006]", StringComparison.Ordinal)));
        Assert.Equal("10.20.1.0/24>eni-aaa:active", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public async Task Throttling_that_never_stops_gives_up_after_the_bound()
    {
        await using var h = new AwsHarness();
        h.Options.ThrottleAttempts = 3;
        for (var i = 0; i < 10; i++)
        {
            h.Ec2.Inject.Add(("DescribeInstances", "RequestLimitExceeded", 503));
        }

        var ex = await Assert.ThrowsAsync<AwsApiException>(h.RegisterAsync);
        Assert.Equal(3, h.Ec2.Actions.Count);
        Assert.Contains("gave up after 3 attempts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metadata_unreachable_fails_before_any_EC2_call()
    {
        await using var h = new AwsHarness();
        h.Options.MetadataEndpoint = LoopbackServer.ClosedPortUri();
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("IMDSv2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unreachable", ex.Message, StringComparison.Ordinal);
        Assert.Empty(h.Ec2.Calls);
    }

    [Fact]
    public async Task Metadata_without_a_region_is_named()
    {
        await using var h = new AwsHarness();
        h.Imds.Values.Remove("placement/region");
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("'placement/region'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("404", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_EC2_answer_is_a_clear_error()
    {
        await using var h = new AwsHarness();
        h.Ec2.RawAnswers["DescribeInstances"] = "<DescribeInstancesResponse><reservationSet><item><instancesSet";
        var ex = await Assert.ThrowsAsync<AwsApiException>(h.RegisterAsync);
        Assert.Contains("DescribeInstances", ex.Message, StringComparison.Ordinal);
        Assert.Contains("malformed", ex.Message, StringComparison.Ordinal);
        h.AssertNoSecret(ex);
    }

    [Fact]
    public async Task No_ENI_with_the_interface_address_is_a_clear_error()
    {
        await using var h = new AwsHarness();
        h.InterfaceAddress = System.Net.IPAddress.Parse("10.0.1.99");
        var ex = await Assert.ThrowsAsync<FlannelException>(h.RegisterAsync);
        Assert.Contains("10.0.1.99", ex.Message, StringComparison.Ordinal);
        Assert.Contains("i-0123456789abcdef0", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("CreateRoute", h.Ec2.Actions);
    }

    [Fact]
    public async Task An_ENI_is_matched_by_a_secondary_private_IP()
    {
        await using var h = new AwsHarness();
        h.Ec2.Enis.Add(new FakeEni { Id = "eni-bbb", PrivateIps = ["10.0.2.8", "10.0.2.9"] });
        h.InterfaceAddress = System.Net.IPAddress.Parse("10.0.2.9");
        h.BackendJson = """{"Type":"aws-vpc","RouteTableID":"rtb-22"}""";
        await using var network = await h.RegisterAsync();
        Assert.Equal("10.20.1.0/24>eni-bbb:active", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public async Task Teardown_removes_the_own_route_and_run_waits_for_cancellation()
    {
        await using var h = new AwsHarness();
        await using var network = await h.RegisterAsync();
        using var cts = new CancellationTokenSource();
        var run = network.RunAsync(cts.Token);
        Assert.False(run.IsCompleted);
        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await network.TeardownAsync(TestContext.Current.CancellationToken);
        Assert.Equal("", Describe(h.Ec2.Table("rtb-22")));
    }

    [Fact]
    public void AddAwsVpcBackend_registers_one_factory_of_type_aws_vpc()
    {
        var services = new ServiceCollection();
        services.AddAwsVpcBackend().AddAwsVpcBackend(o => o.ThrottleAttempts = 2);
        using var provider = services.BuildServiceProvider();
        var factory = Assert.Single(provider.GetServices<IBackendFactory>());
        Assert.Equal(BackendType.AwsVpc, factory.Type);
    }
}
