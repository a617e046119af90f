using System.Net;
using Flannel.Cloud.Gce;
using Flannel.Cloud.Tests.Infrastructure;

namespace Flannel.Cloud.Tests.Gce;

public sealed class GceHarness : IAsyncDisposable
{
    public GceHarness()
    {
        Server = LoopbackServer.Start(Fake.Handle);
        Options = new GceBackendOptions
        {
            MetadataEndpoint = Server.BaseUri,
            ComputeEndpoint = new Uri(Server.BaseUri, "/compute/v1/"),
            OperationPollInterval = TimeSpan.FromMilliseconds(5),
            RetryBaseDelay = TimeSpan.FromMilliseconds(5),
        };
    }

    public FakeGce Fake { get; } = new();

    public LoopbackServer Server { get; }

    public GceBackendOptions Options { get; }

    public CapturingLoggerFactory Logs { get; } = new();

    public TestSubnetManager? SubnetManager { get; private set; }

    /// <summary>Where the network reports its data path's health, or null.</summary>
    public IDataPathMonitor? DataPath { get; set; }

    public async Task<INetwork> RegisterAsync()
    {
        var config = NetworkConfig.Parse("""{"Network":"10.40.0.0/16","Backend":{"Type":"gce"}}""");
        SubnetManager = new TestSubnetManager(config);
        var context = new BackendContext
        {
            SubnetManager = SubnetManager,
            Interface = new ExternalInterface { Name = "ens4", Index = 2, Mtu = 1460, Address = IPAddress.Parse("10.128.0.5") },
            LoggerFactory = Logs,
            DataPath = DataPath,
            PreviousSubnet = IPNetwork.Parse("10.40.1.0/24"),
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await new GceBackendFactory(Options).Create(context).RegisterNetworkAsync(config, cts.Token);
    }

    public void AssertNoToken(Exception? ex = null)
    {
        Xunit.Assert.DoesNotContain(Fake.Token, Logs.AllText, StringComparison.Ordinal);
        if (ex is not null)
        {
            Xunit.Assert.DoesNotContain(Fake.Token, ex.ToString(), StringComparison.Ordinal);
        }
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
