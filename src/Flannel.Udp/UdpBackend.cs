using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;

namespace Flannel.Udp;

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
        var tunAddress = subnet.BaseAddress;
        var (tun, socket) = NetworkNamespace.Run(_context.NetworkNamespacePath, () =>
        {
            var t = TunDevice.Open(_options.DeviceName, _options.Offloads);
            try
            {
                InterfaceConfig.Configure(t.Name, tunAddress, mtu, network);
                var s = UdpTunnelSocket.Open(local, conf.Port, _options.Offloads, _options.SocketBufferSize);
                return (t, s);
            }
            catch
            {
                t.Dispose();
                throw;
            }
        });

        var dataPath = new UdpDataPath(tun, socket, new DataPathOptions { TunAddress = PeerRoute.ToHost(tunAddress) }, _logger);
        Log.DataPathStarted(_logger, tun.Name, tunAddress, mtu, tun.VnetHeader, socket.LocalEndPoint, socket.Gso, socket.Gro);
        dataPath.Start();
        return new UdpNetwork(lease, mtu, (ushort)conf.Port, dataPath, _context, _logger);
    }
}
