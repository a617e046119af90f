using System.Buffers.Binary;
using System.Net;
using System.Runtime.Versioning;
using System.Text;
using Flannel.Udp.Interop;

namespace Flannel.Udp;

/// <summary>
/// Configures the TUN device with the classic interface ioctls (address, netmask, MTU, up, and a device route) and
/// accept_local (so ICMP replies from the TUN address are delivered):
/// the few operations the udp backend needs, done in the namespace of the calling thread.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe class InterfaceConfig
{
    private const nuint SIOCADDRT = 0x890B;
    private const nuint SIOCGIFFLAGS = 0x8913;
    private const nuint SIOCSIFFLAGS = 0x8914;
    private const nuint SIOCSIFADDR = 0x8916;
    private const nuint SIOCSIFNETMASK = 0x891C;
    private const nuint SIOCSIFMTU = 0x8922;
    private const short IFF_UP = 0x1;
    private const ushort RTF_UP = 0x1;

    /// <summary>Sets <paramref name="address"/>/32, the MTU, brings the device up and routes <paramref name="network"/> through it.</summary>
    public static void Configure(string device, IPAddress address, int mtu, IPNetwork network)
    {
        int s = Libc.Socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (s < 0)
        {
            throw Libc.Error("socket for interface ioctls", Libc.LastError);
        }

        try
        {
            byte* ifr = stackalloc byte[40];
            Reset(ifr, device);
            WriteSockAddr(ifr + 16, address);
            Check(Libc.Ioctl(s, SIOCSIFADDR, ifr), $"set address {address} on {device}");

            Reset(ifr, device);
            WriteSockAddr(ifr + 16, IPAddress.Broadcast);
            Check(Libc.Ioctl(s, SIOCSIFNETMASK, ifr), $"set netmask /32 on {device}");

            Reset(ifr, device);
            *(int*)(ifr + 16) = mtu;
            Check(Libc.Ioctl(s, SIOCSIFMTU, ifr), $"set MTU {mtu} on {device}");

            Reset(ifr, device);
            Check(Libc.Ioctl(s, SIOCGIFFLAGS, ifr), $"read flags of {device}");
            *(short*)(ifr + 16) |= IFF_UP;
            Check(Libc.Ioctl(s, SIOCSIFFLAGS, ifr), $"bring {device} up");

            // struct rtentry (x86-64/arm64 layout, 120 bytes): dst at 8, genmask at 40, flags at 56, dev at 88.
            byte* rt = stackalloc byte[120];
            new Span<byte>(rt, 120).Clear();
            WriteSockAddr(rt + 8, network.BaseAddress);
            WriteSockAddr(rt + 40, MaskOf(network.PrefixLength));
            *(ushort*)(rt + 56) = RTF_UP;
            byte* dev = stackalloc byte[16];
            new Span<byte>(dev, 16).Clear();
            Encoding.UTF8.GetBytes(device, new Span<byte>(dev, 15));
            *(byte**)(rt + 88) = dev;
            if (Libc.Ioctl(s, SIOCADDRT, rt) != 0 && Libc.LastError is int e && e != Libc.EEXIST)
            {
                throw Libc.Error($"add route {network} dev {device}", e);
            }

            // ICMP errors the forwarder writes into the TUN come from the TUN's own address; without accept_local the
            // kernel drops them as martians (source is local), so flannel's replies never reach the sender.
            File.WriteAllText($"/proc/sys/net/ipv4/conf/{device}/accept_local", "1");
        }
        finally
        {
            Libc.Close(s);
        }
    }

    private static IPAddress MaskOf(int prefix)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, PeerTable.Mask(prefix));
        return new IPAddress(b);
    }

    private static void Reset(byte* ifr, string device)
    {
        new Span<byte>(ifr, 40).Clear();
        Encoding.UTF8.GetBytes(device, new Span<byte>(ifr, 15));
    }

    private static void WriteSockAddr(byte* p, IPAddress address)
    {
        *(ushort*)p = Libc.AF_INET;
        address.TryWriteBytes(new Span<byte>(p + 4, 4), out _);
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw Libc.Error(what, Libc.LastError);
        }
    }
}
