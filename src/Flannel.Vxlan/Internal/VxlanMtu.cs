using System.Net.Sockets;

namespace Flannel.Vxlan;

/// <summary>VXLAN encapsulation overhead per underlay family, and the device MTUs derived from it.</summary>
internal static class VxlanMtu
{
    /// <summary>Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).</summary>
    public const int IPv4Overhead = 50;

    /// <summary>Outer IPv6 (40) + UDP (8) + VXLAN (8) + inner Ethernet (14); flannel subtracts 50 here too (#1781).</summary>
    public const int IPv6Overhead = 70;

    public static int Overhead(AddressFamily underlay) => underlay == AddressFamily.InterNetworkV6 ? IPv6Overhead : IPv4Overhead;

    /// <summary>The device MTU for an underlay family: (explicit MTU or the interface's) minus the overhead.</summary>
    /// <exception cref="FlannelConfigurationException">The result is below the minimum MTU of the family carried.</exception>
    public static int DeviceMtu(int? configured, int interfaceMtu, AddressFamily underlay)
    {
        var basis = configured ?? interfaceMtu;
        var mtu = basis - Overhead(underlay);
        var min = underlay == AddressFamily.InterNetworkV6 ? 1280 : 68;
        if (mtu < min)
        {
            throw new FlannelConfigurationException(
                configured is null ? "interface MTU" : "Backend.MTU",
                basis.ToString(System.Globalization.CultureInfo.InvariantCulture),
                $"leaves {mtu} bytes after the {Overhead(underlay)}-byte VXLAN over {(underlay == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} overhead; at least {min} are needed");
        }

        return mtu;
    }
}
