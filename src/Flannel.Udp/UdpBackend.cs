using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink;
using Microsoft.Extensions.Logging;

namespace Flannel.Udp;

/// <summary>What a udp data path is built from; the network builds it again from this when it must.</summary>
/// <param name="DeviceName">The TUN device's name (a template at registration, the kernel's name after).</param>
/// <param name="TunAddress">The lease's network address, put on the TUN as /32.</param>
/// <param name="Mtu">The TUN MTU.</param>
/// <param name="Network">The overlay network, routed through the TUN.</param>
/// <param name="Local">The underlay address the socket binds.</param>
/// <param name="Port">The UDP port.</param>
internal sealed record UdpSetup(string DeviceName, IPAddress TunAddress, int Mtu, IPNetwork Network, IPAddress Local, int Port);

/// <summary>The udp backend for one node: acquires the lease and builds the TUN device, socket and forwarder.</summary>
[SupportedOSPlatform("linux")]
internal sealed class UdpBackend : IBackend
{
    private const int EncapsulationOverhead = 28; // outer IPv4 + UDP headers

    private readonly BackendContext _context;
    private readonly UdpBackendOptions _options;
    private readonly ILogger _logger;

    public UdpBackend(BackendContext context, UdpBackendOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Flannel.Udp");
    }

    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var conf = UdpNetConf.Parse(config.Backend);
        if (config.Network is not { } network || network.BaseAddress.AddressFamily != AddressFamily.InterNetwork || !config.EnableIPv4)
        {
            throw new FlannelConfigurationException("Network", config.Network?.ToString(), "the udp backend needs an IPv4 Network");
        }

        if (config.EnableIPv6)
        {
            throw new FlannelConfigurationException("EnableIPv6", "true", "the udp backend carries IPv4 only");
        }

        var iface = _context.Interface;
        if (iface.Address is not { AddressFamily: AddressFamily.InterNetwork } local)
        {
            throw new FlannelConfigurationException("Interface.Address", iface.Address?.ToString(), $"the udp backend binds its socket to the IPv4 address of {iface.Name}, and it has none");
        }

        int mtu = iface.Mtu - EncapsulationOverhead;
        if (mtu < 68)
        {
            throw new FlannelConfigurationException("Interface.Mtu", iface.Mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), "leaves less than the IPv4 minimum of 68 bytes after 28 bytes of UDP encapsulation");
        }

        var publicIP = iface.PublicIP ?? local;
        var request = new LeaseRequest(new LeaseAttributes { PublicIP = publicIP })
        {
            PreviousSubnet = _context.PreviousSubnet,
        };
        var lease = await _context.SubnetManager.AcquireLeaseAsync(request, cancellationToken).ConfigureAwait(false);
        if (lease.Subnet is not { } subnet)
        {
            throw new FlannelException("the subnet manager returned a lease without an IPv4 subnet");
        }

        Log.LeaseAcquired(_logger, subnet, publicIP);
        var ns = _context.NetworkNamespacePath is { } path ? NetworkNamespace.OpenByPath(path) : null;
        RtnetlinkClient? rtnl = null;
        try
        {
            rtnl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = ns }, cancellationToken).ConfigureAwait(false);
            var setup = new UdpSetup(_options.DeviceName, subnet.BaseAddress, mtu, network, local, conf.Port);
            var (dataPath, index) = await OpenDataPathAsync(setup, _options, _context.NetworkNamespacePath, rtnl, null, _logger, cancellationToken).ConfigureAwait(false);
            dataPath.Start();
            return new UdpNetwork(lease, setup with { DeviceName = dataPath.Tun.Name }, dataPath, index, rtnl, ns, _context, _options, _logger);
        }
        catch
        {
            if (rtnl is not null)
            {
                await rtnl.DisposeAsync().ConfigureAwait(false);
            }

            ns?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the TUN device and the socket in the backend's namespace, configures the device (address, MTU, up, the
    /// overlay route) and builds a forwarder on them, not started yet. Returns the forwarder and the device's index.
    /// </summary>
    internal static async ValueTask<(UdpDataPath DataPath, int Index)> OpenDataPathAsync(
        UdpSetup setup, UdpBackendOptions options, string? namespacePath, RtnetlinkClient rtnl, DataPathCounters? counters, ILogger logger, CancellationToken cancellationToken)
    {
        var (tun, socket) = RunInNamespace(namespacePath, () =>
        {
            var t = TunDevice.Open(setup.DeviceName, options.Offloads);
            try
            {
                InterfaceConfig.AcceptLocal(t.Name);
                var s = UdpTunnelSocket.Open(setup.Local, setup.Port, options.Offloads, options.SocketBufferSize);
                return (t, s);
            }
            catch
            {
                t.Dispose();
                throw;
            }
        });
        int index;
        try
        {
            index = await InterfaceConfig.ConfigureAsync(rtnl, tun.Name, setup.TunAddress, setup.Mtu, setup.Network, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            tun.Dispose();
            throw;
        }

        var dataPath = new UdpDataPath(tun, socket, new DataPathOptions { TunAddress = PeerRoute.ToHost(setup.TunAddress) }, logger, counters);
        Log.DataPathStarted(logger, tun.Name, setup.TunAddress, setup.Mtu, tun.VnetHeader, socket.LocalEndPoint, socket.Gso, socket.Gro);
        return (dataPath, index);
    }

    private static T RunInNamespace<T>(string? path, Func<T> work)
    {
        if (path is null)
        {
            return work();
        }

        using var ns = NetworkNamespace.OpenByPath(path);
        return ns.RunInside(work);
    }
}
