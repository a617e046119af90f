using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Flannel.Netlink.Interop;

namespace Flannel.Netlink.Sockets;

/// <summary>
/// An AF_NETLINK/NETLINK_ROUTE socket. Requests use direct send()/recv(MSG_DONTWAIT) syscalls (the kernel processes an
/// rtnetlink request inside send(), so its reply is normally queued before send() returns); only when nothing is queued
/// does a receive fall back to the runtime's epoll engine through a wrapping <see cref="Socket"/>.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class NetlinkSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly SafeHandle _handle;

    private NetlinkSocket(Socket socket, uint portId)
    {
        _socket = socket;
        _handle = socket.SafeHandle;
        PortId = portId;
    }

    public uint PortId { get; }

    public unsafe static NetlinkSocket Open(NetworkNamespace? ns, bool strict, int bufferSize, ReadOnlySpan<int> groups)
    {
        var fd = ns is null ? CreateFd() : ns.RunInside(CreateFd);
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        try
        {
            var s = new NetlinkSocket(socket, 0);
            s.SetBuffer(Libc.SO_SNDBUFFORCE, Libc.SO_SNDBUF, bufferSize);
            s.SetBuffer(Libc.SO_RCVBUFFORCE, Libc.SO_RCVBUF, bufferSize);
            if (strict)
            {
                s.SetOption(Libc.SOL_NETLINK, Libc.NETLINK_EXT_ACK, 1, "NETLINK_EXT_ACK");
                s.SetOption(Libc.SOL_NETLINK, Libc.NETLINK_GET_STRICT_CHK, 1, "NETLINK_GET_STRICT_CHK");
                s.SetOption(Libc.SOL_NETLINK, Libc.NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK");
            }

            var addr = new Libc.SockAddrNetlink { Family = Libc.AF_NETLINK };
            if (Libc.Bind(s._handle, &addr, sizeof(Libc.SockAddrNetlink)) != 0)
            {
                throw new NetlinkException("bind", LastErrno());
            }

            foreach (var g in groups)
            {
                s.SetOption(Libc.SOL_NETLINK, Libc.NETLINK_ADD_MEMBERSHIP, g, "NETLINK_ADD_MEMBERSHIP");
            }

            var len = sizeof(Libc.SockAddrNetlink);
            if (Libc.GetSockName(s._handle, &addr, &len) != 0)
            {
                throw new NetlinkException("getsockname", LastErrno());
            }

            return new NetlinkSocket(socket, addr.PortId);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static int CreateFd()
    {
        var fd = Libc.Socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        return fd >= 0 ? fd : throw new NetlinkException("socket(AF_NETLINK)", LastErrno());
    }

    private unsafe void SetBuffer(int force, int plain, int size)
    {
        var v = size;
        if (Libc.SetSockOpt(_handle, Libc.SOL_SOCKET, force, &v, sizeof(int)) != 0)
        {
            // without CAP_NET_ADMIN: the plain option, capped by net.core.[rw]mem_max
            Libc.SetSockOpt(_handle, Libc.SOL_SOCKET, plain, &v, sizeof(int));
        }
    }

    private unsafe void SetOption(int level, int name, int value, string what)
    {
        var v = value;
        if (Libc.SetSockOpt(_handle, level, name, &v, sizeof(int)) != 0)
        {
            throw new NetlinkException("setsockopt " + what, LastErrno());
        }
    }

    public unsafe void Send(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                var n = Libc.Send(_handle, p, (nuint)data.Length, 0);
                if (n >= 0)
                {
                    return;
                }

                var e = LastErrno();
                if (e != Errno.EINTR)
                {
                    throw new NetlinkException("send", e);
                }
            }
        }
    }

    /// <summary>Receives one datagram without blocking; returns -1 when nothing is queued.</summary>
    public unsafe int TryReceive(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = Libc.Recv(_handle, p, (nuint)buffer.Length, Libc.MSG_DONTWAIT | Libc.MSG_TRUNC);
                if (n >= 0)
                {
                    if (n > buffer.Length)
                    {
                        throw new NetlinkProtocolException($"netlink datagram of {n} bytes truncated to the {buffer.Length}-byte receive buffer");
                    }

                    return (int)n;
                }

                var e = LastErrno();
                if (e == Errno.EAGAIN)
                {
                    return -1;
                }

                if (e != Errno.EINTR)
                {
                    throw new NetlinkException("recv", e);
                }
            }
        }
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var n = TryReceive(buffer.Span);
        if (n >= 0)
        {
            return n;
        }

        try
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new NetlinkException("recv", (Errno)ex.NativeErrorCode);
        }
    }

    private static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    public void Dispose() => _socket.Dispose();
}
