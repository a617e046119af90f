using System.Net;
using Flannel.Cloud.Ali;
using Flannel.Cloud.Tests.Infrastructure;

namespace Flannel.Cloud.Tests.Ali;

/// <summary>A fake metadata service and a fake VPC endpoint on loopback, and a backend wired to them.</summary>
public sealed class AliHarness : IAsyncDisposable
{
    public const string AccessKeyId = "LTAI5tTestKeyId0001";
    public const string Secret = "Sup3rS3cret-AliKey-never-log-me";

    public AliHarness()
    {
        Vpc = new FakeAliVpc(AccessKeyId, Secret);
        Vpc.Tables.Add(new FakeAliTable { Id = "vtb-system", Type = "System", VSwitchIds = ["vsw-other"] });
        Vpc.Table("vtb-system").Entries.Add(new FakeAliEntry { Destination = "192.168.0.0/24", Type = "System", NextHopType = "local", NextHopId = string.Empty });
        MetadataServer = LoopbackServer.Start(Metadata.Handle);
        VpcServer = LoopbackServer.Start(Vpc.Handle);
        Options = new AliVpcBackendOptions
        {
            MetadataEndpoint = MetadataServer.BaseUri,
            VpcEndpoint = VpcServer.BaseUri,
            EnvironmentVariableReader = _ => null,
            RetryDelay = TimeSpan.FromMilliseconds(20),
            PollInterval = TimeSpan.FromMilliseconds(20),
            MetadataRetryDelay = TimeSpan.FromMilliseconds(10),
            OperationTimeout = TimeSpan.FromSeconds(5),
        };
    }

    public FakeAliMetadata Metadata { get; } = new();

    public FakeAliVpc Vpc { get; }

    public LoopbackServer MetadataServer { get; }

    public LoopbackServer VpcServer { get; }

    public AliVpcBackendOptions Options { get; }

    public CapturingLoggerFactory Logs { get; } = new();

    public IPNetwork Subnet { get; set; } = IPNetwork.Parse("10.24.1.0/24");

    public TestSubnetManager? SubnetManager { get; private set; }

    /// <summary>Where the network reports its data path's health, or null.</summary>
    public IDataPathMonitor? DataPath { get; set; }

    public string BackendJson { get; set; } = $$"""{"Type":"ali-vpc","AccessKeyID":"{{AccessKeyId}}","AccessKeySecret":"{{Secret}}"}""";

    public async Task<INetwork> RegisterAsync()
    {
        var config = NetworkConfig.Parse($$"""{"Network":"10.24.0.0/16","Backend":{{BackendJson}}}""");
        SubnetManager = new TestSubnetManager(config);
        var context = new BackendContext
        {
            SubnetManager = SubnetManager,
            Interface = new ExternalInterface { Name = "eth0", Index = 2, Mtu = 1500, Address = IPAddress.Parse("192.168.0.10") },
            LoggerFactory = Logs,
            DataPath = DataPath,
            PreviousSubnet = Subnet,
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await new AliVpcBackendFactory(Options).Create(context).RegisterNetworkAsync(config, cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await MetadataServer.DisposeAsync();
        await VpcServer.DisposeAsync();
    }
}
