using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[assembly: DisableRuntimeMarshalling]

namespace Flannel.Udp.Interop;

/// <summary>The libc calls the data path makes. All are blocking or non-blocking as the descriptor says.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENOBUFS = 105;
    public const int ECONNREFUSED = 111;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EPIPE = 32;
    public const int EBADFD = 77;
    public const int ENOTSOCK = 88;
    public const int EDESTADDRREQ = 89;
    public const int ENOTCONN = 107;
    public const int ESHUTDOWN = 108;

    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int AF_INET = 2;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SOL_UDP = 17;
    public const int UDP_SEGMENT = 103;
    public const int UDP_GRO = 104;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_WAITFORONE = 0x10000;
    public const int SHUT_RDWR = 2;

    public const short POLLIN = 0x1;
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;
    public const int CLONE_NEWNET = 0x40000000;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint Writev(int fd, IoVec* iov, int iovcnt);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, SockAddrIn* addr, uint len);

    [LibraryImport(Lib, EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, SockAddrIn* addr, uint* len);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint len);

    [LibraryImport(Lib, EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMmsg(int fd, MMsgHdr* msgs, uint vlen, int flags);

    [LibraryImport(Lib, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMmsg(int fd, MMsgHdr* msgs, uint vlen, int flags, void* timeout);

    [LibraryImport(Lib, EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport(Lib, EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);

    [LibraryImport(Lib, EntryPoint = "unshare", SetLastError = true)]
    public static partial int Unshare(int flags);

    [LibraryImport(Lib, EntryPoint = "strerror")]
    private static partial byte* StrError(int errnum);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno)
    {
        var p = StrError(errno);
        return p == null ? $"errno {errno}" : $"{Marshal.PtrToStringUTF8((nint)p)} (errno {errno})";
    }

    /// <summary>The errno's symbolic name and text, for problem reports: <c>EPERM (Operation not permitted)</c>.</summary>
    public static string Name(int errno)
    {
        var name = errno switch
        {
            1 => "EPERM", 5 => "EIO", 9 => "EBADF", 11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES", 19 => "ENODEV", 22 => "EINVAL",
            32 => "EPIPE", 77 => "EBADFD", 88 => "ENOTSOCK", 89 => "EDESTADDRREQ", 90 => "EMSGSIZE", 99 => "EADDRNOTAVAIL",
            100 => "ENETDOWN", 101 => "ENETUNREACH", 103 => "ECONNABORTED", 105 => "ENOBUFS", 107 => "ENOTCONN", 108 => "ESHUTDOWN", 111 => "ECONNREFUSED",
            113 => "EHOSTUNREACH",
            _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var p = StrError(errno);
        return p == null ? name : $"{name} ({Marshal.PtrToStringUTF8((nint)p)})";
    }

    public static IOException Error(string operation, int errno) => new($"{operation} failed: {Describe(errno)}", errno);
}

[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public unsafe byte* Base;
    public nuint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal struct SockAddrIn
{
    public ushort Family;
    public ushort PortBigEndian;
    public uint AddressNetworkOrder;
    public ulong Zero;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MsgHdr
{
    public unsafe void* Name;
    public uint NameLength;
    public unsafe IoVec* Iov;
    public nuint IovLength;
    public unsafe void* Control;
    public nuint ControlLength;
    public int Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MMsgHdr
{
    public MsgHdr Header;
    public uint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CMsgHdr
{
    public nuint Length;
    public int Level;
    public int Type;
}

[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short REvents;
}
