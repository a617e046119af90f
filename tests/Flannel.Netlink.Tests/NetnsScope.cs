using Flannel.TestKit;

namespace Flannel.Netlink.Tests;

/// <summary>A TestNamespace plus a NetworkNamespace handle and a client opened into it; disposing removes all of it.</summary>
internal sealed class NetnsScope : IAsyncDisposable
{
    private NetnsScope(TestNamespace ns, NetworkNamespace handle, RtnetlinkClient client)
    {
        Ns = ns;
        Handle = handle;
        Client = client;
    }

    public TestNamespace Ns { get; }

    public NetworkNamespace Handle { get; }

    public RtnetlinkClient Client { get; }

    public static NetnsScope Create(string hint, bool ipv6 = false, Action<RtnetlinkClientOptions>? configure = null)
    {
        var ns = TestNamespace.Create(hint);
        try
        {
            if (ipv6)
            {
                ns.Exec("sysctl", ["-w", "net.ipv6.conf.all.disable_ipv6=0"]);
                ns.Exec("sysctl", ["-w", "net.ipv6.conf.default.disable_ipv6=0"]);
            }

            var handle = NetworkNamespace.OpenByName(ns.Name);
            var options = new RtnetlinkClientOptions { Namespace = handle };
            configure?.Invoke(options);
            return new NetnsScope(ns, handle, RtnetlinkClient.Open(options));
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Creates eth0/eth1 (veth), 198.18.0.1/15 on eth0, both up; returns eth0's index.</summary>
    public int Underlay()
    {
        Ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
        Ns.Ip("addr", "add", "198.18.0.1/15", "dev", "eth0");
        Ns.Ip("link", "set", "eth0", "up");
        Ns.Ip("link", "set", "eth1", "up");
        return IfIndex("eth0");
    }

    public int IfIndex(string name) =>
        Ns.IpJson("link", "show", "dev", name)[0].GetProperty("ifindex").GetInt32();

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        Handle.Dispose();
        Ns.Dispose();
    }
}
