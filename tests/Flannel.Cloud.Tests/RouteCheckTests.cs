using Flannel.Cloud.Tests.Ali;
using Flannel.Cloud.Tests.Aws;
using Flannel.Cloud.Tests.Gce;
using System.Net;
using Flannel.Cloud.Aws;
using Flannel.Cloud.Tests.Infrastructure;
using Flannel.Node;
using Xunit;

namespace Flannel.Cloud.Tests;

/// <summary>
/// The running cloud networks (Core's <see cref="RouteTableNetwork"/>) check the node's route again, put it back when it
/// was deleted behind their back, and report a cloud API that refuses to program it as a degraded data path (naming
/// the subnet, the table and the error) until a later check succeeds. The fake clouds speak the real wire formats.
/// </summary>
public sealed class RouteCheckTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task Aws_route_deleted_while_EC2_throttles_every_retry_is_reported_then_recreated_and_restored()
    {
        await using var h = new AwsHarness { DataPath = new RecordingDataPathMonitor() };
        h.Options.RouteCheckInterval = Interval;
        h.Options.RouteCheckRetryDelay = TimeSpan.FromMilliseconds(50);
        h.Options.ThrottleAttempts = 3;
        var monitor = (RecordingDataPathMonitor)h.DataPath;
        await using var network = await h.RegisterAsync();
        var table = h.Ec2.Table("rtb-22");
        Assert.Contains(table.Routes, r => r.Destination == "10.20.1.0/24");

        // Someone deletes the node's route in the console, and EC2 throttles every attempt to create it again.
        h.Ec2.Locked(() =>
        {
            table.Routes.RemoveAll(r => r.Destination == "10.20.1.0/24");
            h.Ec2.Inject.AddRange(Enumerable.Repeat(("CreateRoute", "RequestLimitExceeded", 503), 3));
        });
        using var run = new CancellationTokenSource();
        var running = network.RunAsync(run.Token);

        var problem = await monitor.NextProblemAsync();
        Assert.StartsWith("the route for subnet 10.20.1.0/24 → eni-aaa could not be programmed in VPC route table rtb-22: the cloud API call failed: EC2 CreateRoute failed: RequestLimitExceeded", problem.Problem, StringComparison.Ordinal);
        Assert.Contains("gave up after 3 attempts", problem.Problem, StringComparison.Ordinal);
        Assert.IsType<Flannel.Cloud.Aws.AwsApiException>(problem.Cause);
        Assert.False(running.IsCompleted);

        // EC2 accepts again: the next (sooner) retry creates the route and the data path is healthy.
        await monitor.NextHealthyAsync();
        h.Ec2.Locked(() => Assert.Single(table.Routes, r => r.Destination == "10.20.1.0/24" && r.EniId == "eni-aaa" && r.State == "active"));
        Assert.Contains("[1100]", h.Logs.AllText, StringComparison.Ordinal);

        await run.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        h.AssertNoSecret(problem.Cause);
    }

    [Fact]
    public async Task Aws_under_a_FlannelNode_the_refused_route_is_one_DataPathDegraded_then_DataPathRestored_and_the_node_stays_Ready()
    {
        await using var h = new AwsHarness();
        h.Options.RouteCheckInterval = Interval;
        h.Options.RouteCheckRetryDelay = TimeSpan.FromMilliseconds(50);
        h.Options.ThrottleAttempts = 2;
        var ct = TestContext.Current.CancellationToken;
        var config = NetworkConfig.Parse("""{"Network":"10.20.0.0/16","Backend":{"Type":"aws-vpc"}}""");
        using var registry = new InMemoryLeaseRegistry(config);
        await using var node = new FlannelNode(
            new FlannelNodeOptions
            {
                InstanceName = "aws",
                NodeName = "aws",
                NetworkConfig = config,
                Interface = new InterfaceSelection { Explicit = new ExternalInterface { Name = "ens5", Index = 2, Mtu = 9001, Address = IPAddress.Parse("10.0.1.5") } },
            },
            new FlannelNodeServices { SubnetManager = new LeaseManager(registry), Backends = [new AwsVpcBackendFactory(h.Options)], LoggerFactory = h.Logs });
        await using var events = node.WatchEventsAsync(ct).GetAsyncEnumerator(ct);
        await node.StartAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
        var subnet = node.CurrentLease!.Subnet!.Value.ToString();
        var table = h.Ec2.Table("rtb-22");
        h.Ec2.Locked(() =>
        {
            table.Routes.RemoveAll(r => r.Destination == subnet);
            h.Ec2.Inject.AddRange(Enumerable.Repeat(("CreateRoute", "RequestLimitExceeded", 503), 4));
        });

        async Task<NodeEvent> Next(NodeEventKind kind)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            while (await events.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
            {
                if (events.Current.Kind == kind)
                {
                    return events.Current;
                }
            }

            throw new InvalidOperationException($"the node's events ended before {kind}");
        }

        // Two checks fail (throttled on both attempts of each), one event; the third check puts the route back.
        var degraded = await Next(NodeEventKind.DataPathDegraded);
        Assert.StartsWith($"data path degraded: the route for subnet {subnet} → eni-aaa could not be programmed in VPC route table rtb-22: the cloud API call failed: EC2 CreateRoute failed: RequestLimitExceeded", degraded.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(NodeState.Ready, node.State);
        await Next(NodeEventKind.DataPathRestored);
        Assert.Null(node.DataPathProblem);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);
        h.Ec2.Locked(() => Assert.Single(table.Routes, r => r.Destination == subnet && r.EniId == "eni-aaa"));
        Assert.Single(h.Logs.Lines, l => l.Contains("[7016]", StringComparison.Ordinal));
        await node.StopAsync(ct);
    }

    [Fact]
    public async Task Aws_credentials_refused_during_a_check_say_so_and_recover()
    {
        await using var h = new AwsHarness { DataPath = new RecordingDataPathMonitor() };
        h.Options.RouteCheckInterval = Interval;
        h.Options.RouteCheckRetryDelay = TimeSpan.FromMilliseconds(50);
        var monitor = (RecordingDataPathMonitor)h.DataPath;
        await using var network = await h.RegisterAsync();
        h.Ec2.Locked(() => h.Ec2.Inject.Add(("DescribeRouteTables", "AuthFailure", 401)));
        using var run = new CancellationTokenSource();
        var running = network.RunAsync(run.Token);

        var problem = await monitor.NextProblemAsync();
        Assert.Contains("10.20.1.0/24", problem.Problem, StringComparison.Ordinal);
        Assert.Contains("the cloud API refused this node's credentials or their permissions: EC2 DescribeRouteTables failed: AuthFailure", problem.Problem, StringComparison.Ordinal);
        Assert.Contains("EC2 could not validate the credentials", problem.Problem, StringComparison.Ordinal);
        Assert.True(Assert.IsAssignableFrom<FlannelException>(problem.Cause).IsCredentialsError);

        await monitor.NextHealthyAsync();
        await run.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        h.AssertNoSecret(problem.Cause);
    }

    [Fact]
    public async Task Aws_with_two_tables_names_the_one_that_failed_and_keeps_the_other()
    {
        await using var h = new AwsHarness { DataPath = new RecordingDataPathMonitor() };
        h.BackendJson = """{"Type":"aws-vpc","RouteTableID":["rtb-22","rtb-main"]}""";
        var monitor = (RecordingDataPathMonitor)h.DataPath;
        var network = Assert.IsType<RouteTableNetwork>(await h.RegisterAsync());
        await using (network)
        {
            h.Ec2.Locked(() =>
            {
                h.Ec2.Table("rtb-main").Routes.RemoveAll(r => r.Destination == "10.20.1.0/24");
                h.Ec2.Table("rtb-22").Routes.RemoveAll(r => r.Destination == "10.20.1.0/24");
                h.Ec2.Inject.Add(("CreateRoute", "RouteLimitExceeded", 400));
            });

            Assert.False(await network.ReconcileAsync(TestContext.Current.CancellationToken));
            var problem = await monitor.NextProblemAsync();
            Assert.Contains("could not be programmed in VPC route table rtb-22 (1 of 2 route tables): the cloud API call failed: EC2 CreateRoute failed: RouteLimitExceeded", problem.Problem, StringComparison.Ordinal);
            Assert.Contains("raise it in Service Quotas", problem.Problem, StringComparison.Ordinal);
            h.Ec2.Locked(() => Assert.Contains(h.Ec2.Table("rtb-main").Routes, r => r.Destination == "10.20.1.0/24"));

            Assert.True(await network.ReconcileAsync(TestContext.Current.CancellationToken));
            await monitor.NextHealthyAsync();
            h.Ec2.Locked(() => Assert.Contains(h.Ec2.Table("rtb-22").Routes, r => r.Destination == "10.20.1.0/24"));
            Assert.Equal(2, network.ReconcileCount);
        }
    }

    [Fact]
    public async Task Aws_teardown_stops_the_checks_from_putting_the_route_back()
    {
        await using var h = new AwsHarness();
        var network = Assert.IsType<RouteTableNetwork>(await h.RegisterAsync());
        await using (network)
        {
            await network.TeardownAsync(TestContext.Current.CancellationToken);
            Assert.True(await network.ReconcileAsync(TestContext.Current.CancellationToken));
            h.Ec2.Locked(() => Assert.DoesNotContain(h.Ec2.Table("rtb-22").Routes, r => r.Destination == "10.20.1.0/24"));
        }
    }

    [Fact]
    public async Task Gce_route_deleted_and_insert_forbidden_names_the_permission_then_recovers()
    {
        await using var h = new GceHarness { DataPath = new RecordingDataPathMonitor() };
        h.Options.RouteCheckInterval = Interval;
        h.Options.RouteCheckRetryDelay = TimeSpan.FromMilliseconds(50);
        var monitor = (RecordingDataPathMonitor)h.DataPath;
        await using var network = await h.RegisterAsync();
        const string name = "flannel-10-40-1-0-24";
        h.Fake.Locked(() =>
        {
            Assert.True(h.Fake.Routes.Remove(name));
            h.Fake.Inject.Add(("routes.insert", 403, "forbidden"));
        });
        using var run = new CancellationTokenSource();
        var running = network.RunAsync(run.Token);

        var problem = await monitor.NextProblemAsync();
        Assert.StartsWith($"the route for subnet 10.40.1.0/24 → {FakeGce.InstanceLink} could not be programmed in the routes of project proj-1 (network default): the cloud API refused this node's credentials or their permissions: ", problem.Problem, StringComparison.Ordinal);
        Assert.Contains("compute.routes.create", problem.Problem, StringComparison.Ordinal);

        await monitor.NextHealthyAsync();
        h.Fake.Locked(() => Assert.Equal(FakeGce.InstanceLink, (string?)h.Fake.Routes[name]["nextHopInstance"]));
        await run.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        h.AssertNoToken(problem.Cause);
    }

    [Fact]
    public async Task Gce_server_errors_after_every_retry_are_reported_and_the_next_check_restores()
    {
        await using var h = new GceHarness { DataPath = new RecordingDataPathMonitor() };
        h.Options.RouteCheckInterval = Interval;
        h.Options.RouteCheckRetryDelay = TimeSpan.FromMilliseconds(50);
        h.Options.RetryAttempts = 2;
        var monitor = (RecordingDataPathMonitor)h.DataPath;
        await using var network = await h.RegisterAsync();
        h.Fake.Locked(() => h.Fake.Inject.AddRange([("routes.get", 503, "backendError"), ("routes.get", 503, "backendError")]));
        using var run = new CancellationTokenSource();
        var running = network.RunAsync(run.Token);

        var problem = await monitor.NextProblemAsync();
        Assert.Contains("10.40.1.0/24", problem.Problem, StringComparison.Ordinal);
        Assert.Contains("the cloud API call failed: gce: GET projects/proj-1/global/routes/flannel-10-40-1-0-24 failed: HTTP 503 backendError", problem.Problem, StringComparison.Ordinal);
        await monitor.NextHealthyAsync();
        await run.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Ali_unknown_access_key_during_a_check_says_credentials_then_recovers_and_recreates_the_entry()
    {
        await using var h = new AliHarness { DataPath = new RecordingDataPathMonitor() };
        h.Options.RouteCheckInterval = Interval;
        h.Options.RouteCheckRetryDelay = TimeSpan.FromMilliseconds(50);
        var monitor = (RecordingDataPathMonitor)h.DataPath;
        await using var network = await h.RegisterAsync();
        h.Vpc.Locked(() =>
        {
            h.Vpc.Table("vtb-system").Entries.RemoveAll(e => e.Destination == "10.24.1.0/24");
            h.Vpc.Inject.Add(("DescribeRouteEntryList", "InvalidAccessKeyId.NotFound", 404));
        });
        using var run = new CancellationTokenSource();
        var running = network.RunAsync(run.Token);

        var problem = await monitor.NextProblemAsync();
        Assert.StartsWith("the route for subnet 10.24.1.0/24 → i-self could not be programmed in VPC route table vtb-system: the cloud API refused this node's credentials or their permissions: ", problem.Problem, StringComparison.Ordinal);
        Assert.Contains("the AccessKeyID is unknown or disabled", problem.Problem, StringComparison.Ordinal);

        await monitor.NextHealthyAsync();
        h.Vpc.Locked(() => Assert.Single(h.Vpc.Table("vtb-system").Entries, e => e.Destination == "10.24.1.0/24" && e.NextHopId == "i-self"));
        await run.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.DoesNotContain(AliHarness.Secret, h.Logs.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain(AliHarness.Secret, problem.Cause!.ToString(), StringComparison.Ordinal);
    }
}
