using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink;
using Microsoft.Extensions.Logging;

namespace Flannel.Vxlan;

/// <summary>
/// The vxlan backend bound to one node: creates (or reuses) <c>flannel.&lt;VNI&gt;</c> and <c>flannel-v6.&lt;VNI&gt;</c>,
/// publishes their MACs with the lease, and hands out the network.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class VxlanBackend : IBackend
{
    private readonly BackendContext _context;
    private readonly VxlanBackendOptions _options;
    private readonly ILogger _logger;

    public VxlanBackend(BackendContext context, VxlanBackendOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Flannel.Vxlan");
    }

    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var vx = VxlanConfig.Parse(config.Backend);
        foreach (var o in vx.IgnoredOptions)
        {
            Log.IgnoredOption(_logger, o);
        }

        var iface = _context.Interface;
        var families = new List<VxlanDeviceSpec>();
        var state = VtepState.Load(_options.StateDirectory, _context.InstanceName, vx.Vni, out var problem);
        if (problem is not null)
        {
            Log.StateProblem(_logger, problem);
        }

        var ns = _context.NetworkNamespacePath is { } path ? NetworkNamespace.OpenByPath(path) : null;
        var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns, LoggerFactory = _context.LoggerFactory, MeterFactory = _context.MeterFactory });
        var owned = false;
        try
        {
            if (config.EnableIPv4)
            {
                var local = iface.Address ?? throw new FlannelConfigurationException("iface", iface.Name, "the vxlan backend needs an IPv4 address on the external interface when EnableIPv4 is set");
                families.Add(await SpecAsync(rtnl, AddressFamily.InterNetwork, "flannel." + vx.Vni, vx, local, state.Mac, cancellationToken).ConfigureAwait(false));
            }

            if (config.EnableIPv6)
            {
                var local = iface.IPv6Address ?? throw new FlannelConfigurationException("iface", iface.Name, "the vxlan backend needs an IPv6 address on the external interface when EnableIPv6 is set");
                families.Add(await SpecAsync(rtnl, AddressFamily.InterNetworkV6, "flannel-v6." + vx.Vni, vx, local, state.V6Mac, cancellationToken).ConfigureAwait(false));
            }

            var devices = new List<Link>();
            foreach (var spec in families)
            {
                devices.Add(await VxlanDevice.EnsureAsync(rtnl, spec, _logger, cancellationToken).ConfigureAwait(false));
                if (spec.Family == AddressFamily.InterNetworkV6 && NamespaceSysctl.TryWrite(_context.NetworkNamespacePath, $"net/ipv6/conf/{spec.Name}/accept_ra", "0") is { } err)
                {
                    Log.AcceptRaFailed(_logger, spec.Name, err);
                }

                if (spec.Family == AddressFamily.InterNetwork)
                {
                    state.Mac = spec.Mac;
                }
                else
                {
                    state.V6Mac = spec.Mac;
                }
            }

            if (state.TrySave() is { } saveProblem)
            {
                Log.StateProblem(_logger, saveProblem);
            }

            var v4 = families.FirstOrDefault(f => f.Family == AddressFamily.InterNetwork);
            var v6 = families.FirstOrDefault(f => f.Family == AddressFamily.InterNetworkV6);
            var attributes = new LeaseAttributes
            {
                PublicIP = config.EnableIPv4 ? iface.PublicIP ?? iface.Address : null,
                PublicIPv6 = config.EnableIPv6 ? iface.PublicIPv6 ?? iface.IPv6Address : null,
                BackendType = BackendType.Vxlan.Value,
                BackendData = v4 is null ? null : VtepData.Create(vx.Vni, v4.Mac),
                BackendV6Data = v6 is null ? null : VtepData.Create(vx.Vni, v6.Mac),
            };
            var lease = await _context.SubnetManager.AcquireLeaseAsync(
                new LeaseRequest(attributes) { PreviousSubnet = _context.PreviousSubnet, PreviousIPv6Subnet = _context.PreviousIPv6Subnet },
                cancellationToken).ConfigureAwait(false);

            var network = new VxlanNetwork(_context, _options, config, vx, lease, families, rtnl, ns);
            owned = true;
            try
            {
                await network.SetUpDevicesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await network.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            Log.Registered(_logger, _context.InstanceName, new LeaseSubnets(lease.Subnet, lease.IPv6Subnet), network.Mtu);
            return network;
        }
        catch
        {
            // On success the network owns the client and namespace handle.
            if (!owned)
            {
                await rtnl.DisposeAsync().ConfigureAwait(false);
                ns?.Dispose();
            }

            throw;
        }
    }

    private async ValueTask<VxlanDeviceSpec> SpecAsync(RtnetlinkClient rtnl, AddressFamily family, string name, VxlanConfig vx, IPAddress local, PhysicalAddress? stored, CancellationToken cancellationToken)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(name) > 15)
        {
            throw new FlannelConfigurationException("Backend.VNI", vx.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), $"the device name {name} would be longer than the kernel's 15 bytes");
        }

        var mtu = VxlanMtu.DeviceMtu(vx.Mtu, _context.Interface.Mtu, family);
        var spec = new VxlanDeviceSpec(family, name, vx.Vni, local, _context.Interface.Index, vx.Port, vx.Learning, vx.Gbp, mtu, stored ?? PhysicalAddress.None);
        if (stored is null)
        {
            // No state file: reuse the MAC of an existing compatible device, else a fresh random one.
            var existing = await rtnl.Links.GetAsync(name, cancellationToken).ConfigureAwait(false);
            var mac = existing is not null && VxlanDevice.Incompatibility(existing, spec) is null && existing.MacAddress is { } m && m.GetAddressBytes().Length == 6
                ? m
                : VtepData.NewMac();
            spec = spec with { Mac = mac };
        }

        return spec;
    }
}
