using System.Net;
using Amazon.Runtime;
using Flannel.Cloud.Aws;
using Flannel.Cloud.Tests.Infrastructure;

namespace Flannel.Cloud.Tests.Aws;

public sealed class AwsHarness : IAsyncDisposable
{
    public const string AccessKey = "AKIAFAKEFLANNEL00001";
    public const string SecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY42";

    public AwsHarness()
    {
        Ec2.Tables.Add(new FakeRouteTable { Id = "rtb-main", Main = true });
        Ec2.Tables.Add(new FakeRouteTable { Id = "rtb-22", SubnetAssociations = ["subnet-11"] });
        ImdsServer = LoopbackServer.Start(Imds.Handle);
        Ec2Server = LoopbackServer.Start(Ec2.Handle);
        Options = new AwsVpcBackendOptions
        {
            MetadataEndpoint = ImdsServer.BaseUri,
            Ec2ServiceUrl = Ec2Server.BaseUri,
            Credentials = new BasicAWSCredentials(AccessKey, SecretKey),
            SdkMaxErrorRetry = 0,
            ThrottleBaseDelay = TimeSpan.FromMilliseconds(10),
        };
    }

    public FakeImds Imds { get; } = new();

    public FakeEc2 Ec2 { get; } = new();

    public LoopbackServer ImdsServer { get; }

    public LoopbackServer Ec2Server { get; }

    public AwsVpcBackendOptions Options { get; }

    public CapturingLoggerFactory Logs { get; } = new();

    public IPAddress InterfaceAddress { get; set; } = IPAddress.Parse("10.0.1.5");

    public string BackendJson { get; set; } = """{"Type":"aws-vpc"}""";

    public TestSubnetManager? SubnetManager { get; private set; }

    /// <summary>Where the network reports its data path's health, or null.</summary>
    public IDataPathMonitor? DataPath { get; set; }

    public async Task<INetwork> RegisterAsync()
    {
        var config = NetworkConfig.Parse($$"""{"Network":"10.20.0.0/16","Backend":{{BackendJson}}}""");
        SubnetManager = new TestSubnetManager(config);
        var context = new BackendContext
        {
            SubnetManager = SubnetManager,
            Interface = new ExternalInterface { Name = "ens5", Index = 2, Mtu = 9001, Address = InterfaceAddress },
            LoggerFactory = Logs,
            DataPath = DataPath,
            PreviousSubnet = IPNetwork.Parse("10.20.1.0/24"),
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await new AwsVpcBackendFactory(Options).Create(context).RegisterNetworkAsync(config, cts.Token);
    }

    public void AssertNoSecret(Exception? ex = null)
    {
        Xunit.Assert.DoesNotContain(SecretKey, Logs.AllText, StringComparison.Ordinal);
        Xunit.Assert.DoesNotContain(Imds.Token, Logs.AllText, StringComparison.Ordinal);
        if (ex is not null)
        {
            Xunit.Assert.DoesNotContain(SecretKey, ex.ToString(), StringComparison.Ordinal);
            Xunit.Assert.DoesNotContain(Imds.Token, ex.ToString(), StringComparison.Ordinal);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ImdsServer.DisposeAsync();
        await Ec2Server.DisposeAsync();
    }
}
