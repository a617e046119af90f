using System.Buffers.Binary;
using System.Net;
using System.Runtime.Versioning;
using Flannel.Udp.Interop;
using Microsoft.Win32.SafeHandles;

namespace Flannel.Udp;

/// <summary>
/// The encapsulation socket: a blocking IPv4 UDP socket bound to the underlay address and port, with UDP GRO
/// (coalesced receive) and UDP GSO (segmented send) switched on where the kernel offers them.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class UdpTunnelSocket : IDisposable
{
    private UdpTunnelSocket(SafeFileHandle handle, IPEndPoint local, bool gso, bool gro)
    {
        Handle = handle;
        LocalEndPoint = local;
        Gso = gso;
        Gro = gro;
    }

    public SafeFileHandle Handle { get; }

    public int Fd => (int)Handle.DangerousGetHandle();

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>True when sends may carry a UDP_SEGMENT size (one syscall, many datagrams).</summary>
    public bool Gso { get; }

    /// <summary>True when receives may return several coalesced datagrams with a UDP_GRO size.</summary>
    public bool Gro { get; }

    /// <summary>Creates and binds the socket in the calling thread's namespace.</summary>
    /// <param name="address">The local IPv4 address.</param>
    /// <param name="port">The local port (0 for any).</param>
    /// <param name="offloads">Try UDP GSO and GRO.</param>
    /// <param name="bufferSize">SO_RCVBUF/SO_SNDBUF to force, or 0 for the kernel defaults.</param>
    public static UdpTunnelSocket Open(IPAddress address, int port, bool offloads, int bufferSize)
    {
        int fd = Libc.Socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Libc.Error("socket(AF_INET, SOCK_DGRAM)", Libc.LastError);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (bufferSize > 0)
            {
                int size = bufferSize;
                if (Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, &size, 4) != 0)
                {
                    Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, &size, 4);
                }

                if (Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &size, 4) != 0)
                {
                    Libc.SetSockOpt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &size, 4);
                }
            }

            var sa = new SockAddrIn
            {
                Family = Libc.AF_INET,
                PortBigEndian = BinaryPrimitives.ReverseEndianness((ushort)port),
                AddressNetworkOrder = ToNetworkOrder(address),
            };
            if (Libc.Bind(fd, &sa, 16) != 0)
            {
                throw Libc.Error($"bind {address}:{port}", Libc.LastError);
            }

            uint len = 16;
            Libc.GetSockName(fd, &sa, &len);
            var local = new IPEndPoint(address, BinaryPrimitives.ReverseEndianness(sa.PortBigEndian));

            bool gso = false, gro = false;
            if (offloads)
            {
                int zero = 0, one = 1;
                gso = Libc.SetSockOpt(fd, Libc.SOL_UDP, Libc.UDP_SEGMENT, &zero, 4) == 0;
                gro = Libc.SetSockOpt(fd, Libc.SOL_UDP, Libc.UDP_GRO, &one, 4) == 0;
            }

            return new UdpTunnelSocket(handle, local, gso, gro);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public static uint ToNetworkOrder(IPAddress address)
    {
        uint v = 0;
        address.TryWriteBytes(new Span<byte>(&v, 4), out _);
        return v;
    }

    public void Dispose() => Handle.Dispose();
}
