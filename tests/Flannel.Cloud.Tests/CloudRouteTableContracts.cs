using System.Net;
using Amazon.EC2;
using Amazon.Runtime;
using Flannel.Cloud.Ali;
using Flannel.Cloud.Aws;
using Flannel.Cloud.Gce;
using Flannel.Cloud.Tests.Ali;
using Flannel.Cloud.Tests.Aws;
using Flannel.Cloud.Tests.Gce;
using Flannel.Cloud.Tests.Infrastructure;
using Flannel.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.Cloud.Tests;

/// <summary>Core's RouteTableContract against the EC2 route table, through the real AWS SDK and the EC2 fake.</summary>
public sealed class AwsVpcRouteTableContract : RouteTableContract, IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _servers = [];
    private readonly List<IDisposable> _clients = [];

    protected override bool SupportsIPv6 => false;

    protected override bool SupportsBlackhole => false;

    protected override bool SupportsOnLink => false;

    protected override OverlayRoute Route(IPNetwork destination, int hop) => new(destination) { NextHop = hop == 0 ? "eni-aaa" : "eni-bbb" };

    protected override Task<IRouteTable> CreateAsync()
    {
        var fake = new FakeEc2();
        fake.Enis.Add(new FakeEni { Id = "eni-bbb", PrivateIps = ["10.0.1.6"] });
        fake.Tables.Add(new FakeRouteTable { Id = "rtb-22" });
        var server = LoopbackServer.Start(fake.Handle);
        _servers.Add(server);
        var client = new AmazonEC2Client(new BasicAWSCredentials("AKIDCONTRACT", "contract-secret"), new AmazonEC2Config { ServiceURL = server.BaseUri.ToString(), AuthenticationRegion = "us-west-2", MaxErrorRetry = 0 });
        _clients.Add(client);
        var caller = new Ec2Caller(client, TimeProvider.System, NullLogger.Instance, 3, TimeSpan.FromMilliseconds(10));
        return Task.FromResult<IRouteTable>(new AwsVpcRouteTable(caller, "rtb-22", NullLogger.Instance));
    }

    public async ValueTask DisposeAsync()
    {
        _clients.ForEach(c => c.Dispose());
        foreach (var s in _servers)
        {
            await s.DisposeAsync();
        }
    }
}

/// <summary>Core's RouteTableContract against the Alibaba VPC route table, through the signed RPC client and the fake.</summary>
public sealed class AliVpcRouteTableContract : RouteTableContract, IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _servers = [];
    private readonly HttpClient _http = new();

    protected override bool SupportsIPv6 => false;

    protected override bool SupportsBlackhole => false;

    protected override bool SupportsOnLink => false;

    protected override OverlayRoute Route(IPNetwork destination, int hop) => new(destination) { NextHop = hop == 0 ? "i-aaa" : "i-bbb" };

    protected override Task<IRouteTable> CreateAsync()
    {
        var fake = new FakeAliVpc("id-contract", "secret-contract") { PendingFor = TimeSpan.FromMilliseconds(15) };
        fake.Tables.Add(new FakeAliTable { Id = "vtb-1" });
        fake.Table("vtb-1").Entries.Add(new FakeAliEntry { Destination = "192.168.0.0/24", Type = "System", NextHopType = "local" });
        var server = LoopbackServer.Start(fake.Handle);
        _servers.Add(server);
        var client = new AliVpcClient(_http, server.BaseUri, new AliCredentials("id-contract", "secret-contract", "test"), "cn-hangzhou", TimeProvider.System, NullLogger.Instance);
        var options = new AliVpcBackendOptions { RetryDelay = TimeSpan.FromMilliseconds(10), PollInterval = TimeSpan.FromMilliseconds(10), OperationTimeout = TimeSpan.FromSeconds(10) };
        return Task.FromResult<IRouteTable>(new AliVpcRouteTable(client, "vtb-1", options, TimeProvider.System, NullLogger.Instance));
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        foreach (var s in _servers)
        {
            await s.DisposeAsync();
        }
    }
}

/// <summary>Core's RouteTableContract against the GCE route table, through the Compute client and the fake (operations included).</summary>
public sealed class GceRouteTableContract : RouteTableContract, IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _servers = [];
    private readonly HttpClient _http = new();

    protected override bool SupportsIPv6 => false;

    protected override bool SupportsBlackhole => false;

    protected override bool SupportsOnLink => false;

    protected override OverlayRoute Route(IPNetwork destination, int hop) =>
        new(destination) { NextHop = FakeGce.Link + "zones/us-central1-a/instances/node-" + (hop == 0 ? "a" : "b") };

    protected override Task<IRouteTable> CreateAsync()
    {
        var fake = new FakeGce { PollsUntilDone = 1 };
        var server = LoopbackServer.Start(fake.Handle);
        _servers.Add(server);
        var options = new GceBackendOptions { ComputeEndpoint = new Uri(server.BaseUri, "/compute/v1/"), OperationPollInterval = TimeSpan.FromMilliseconds(5), RetryBaseDelay = TimeSpan.FromMilliseconds(5) };
        var compute = new GceComputeClient(_http, options, new GceMetadataTokenSource(new GceMetadataClient(_http, server.BaseUri), TimeProvider.System), TimeProvider.System, NullLogger.Instance);
        return Task.FromResult<IRouteTable>(new GceRouteTable(compute, "proj-1", FakeGce.NetworkLink, NullLogger.Instance));
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        foreach (var s in _servers)
        {
            await s.DisposeAsync();
        }
    }
}
