using System.Runtime.Versioning;
using System.Text;
using Flannel.Udp.Interop;
using Microsoft.Win32.SafeHandles;

namespace Flannel.Udp;

/// <summary>
/// A TUN device opened through <c>/dev/net/tun</c> (TUNSETIFF, IFF_TUN|IFF_NO_PI, optionally IFF_VNET_HDR with
/// TSO offloads). The device belongs to the network namespace of the thread that opens it; a non-persistent device
/// disappears when its last descriptor closes.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class TunDevice : IDisposable
{
    private const nuint TUNSETIFF = 0x400454ca;
    private const nuint TUNSETOFFLOAD = 0x400454d0;
    private const short IFF_TUN = 0x0001;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_VNET_HDR = 0x4000;
    private const uint TUN_F_CSUM = 0x01;
    private const uint TUN_F_TSO4 = 0x02;

    private TunDevice(SafeFileHandle handle, string name, bool vnetHeader)
    {
        Handle = handle;
        Name = name;
        VnetHeader = vnetHeader;
    }

    /// <summary>The descriptor (non-blocking).</summary>
    public SafeFileHandle Handle { get; }

    /// <summary>The device name the kernel gave (for example <c>flannel0</c>).</summary>
    public string Name { get; }

    /// <summary>True when every frame carries a virtio_net_hdr and the kernel may hand over TSO super-packets.</summary>
    public bool VnetHeader { get; }

    /// <summary>The raw descriptor number (valid while <see cref="Handle"/> is open).</summary>
    public int Fd => (int)Handle.DangerousGetHandle();

    /// <summary>Opens (creating when absent) the TUN device <paramref name="name"/> in the calling thread's namespace.</summary>
    /// <param name="name">The device name or template (<c>flannel%d</c>).</param>
    /// <param name="offloads">Ask for IFF_VNET_HDR with checksum and TCPv4 segmentation offload; falls back to plain frames when refused.</param>
    public static TunDevice Open(string name, bool offloads)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.UTF8.GetByteCount(name) > 15)
        {
            throw new ArgumentException($"TUN device name '{name}' is longer than 15 bytes", nameof(name));
        }

        int fd = Libc.Open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw Libc.Error("open /dev/net/tun", Libc.LastError);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            bool vnet = false;
            string actual;
            if (offloads && TrySetIff(fd, name, (short)(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR), out actual, out _))
            {
                uint off = TUN_F_CSUM | TUN_F_TSO4;
                vnet = Libc.Ioctl(fd, TUNSETOFFLOAD, (void*)off) == 0;
                if (!vnet)
                {
                    // The descriptor is bound to the device with a vnet header we cannot use without offloads: reopen.
                    handle.Dispose();
                    return Open(actual, offloads: false);
                }
            }
            else if (!TrySetIff(fd, name, (short)(IFF_TUN | IFF_NO_PI), out actual, out int errno))
            {
                throw Libc.Error($"TUNSETIFF {name}", errno);
            }

            return new TunDevice(handle, actual, vnet);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static bool TrySetIff(int fd, string name, short flags, out string actual, out int errno)
    {
        byte* ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        Encoding.UTF8.GetBytes(name, new Span<byte>(ifr, 15));
        *(short*)(ifr + 16) = flags;
        if (Libc.Ioctl(fd, TUNSETIFF, ifr) != 0)
        {
            errno = Libc.LastError;
            actual = name;
            return false;
        }

        errno = 0;
        var span = new ReadOnlySpan<byte>(ifr, 16);
        int nul = span.IndexOf((byte)0);
        actual = Encoding.UTF8.GetString(nul < 0 ? span : span[..nul]);
        return true;
    }

    /// <inheritdoc />
    public void Dispose() => Handle.Dispose();
}
