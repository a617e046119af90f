namespace Flannel.Netlink;

/// <summary>Linux error numbers (the asm-generic values, shared by x86-64 and arm64) that netlink and the socket calls report.</summary>
public enum Errno
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>EPERM: operation not permitted.</summary>
    EPERM = 1,
    /// <summary>ENOENT: no such file or directory (netlink: no such object).</summary>
    ENOENT = 2,
    /// <summary>ESRCH: no such process (netlink: no such route).</summary>
    ESRCH = 3,
    /// <summary>EINTR: interrupted system call.</summary>
    EINTR = 4,
    /// <summary>EIO: input/output error.</summary>
    EIO = 5,
    /// <summary>ENXIO: no such device or address.</summary>
    ENXIO = 6,
    /// <summary>E2BIG: argument list too long.</summary>
    E2BIG = 7,
    /// <summary>EBADF: bad file descriptor.</summary>
    EBADF = 9,
    /// <summary>EAGAIN: resource temporarily unavailable.</summary>
    EAGAIN = 11,
    /// <summary>ENOMEM: out of memory.</summary>
    ENOMEM = 12,
    /// <summary>EACCES: permission denied.</summary>
    EACCES = 13,
    /// <summary>EFAULT: bad address.</summary>
    EFAULT = 14,
    /// <summary>EBUSY: device or resource busy.</summary>
    EBUSY = 16,
    /// <summary>EEXIST: the object already exists.</summary>
    EEXIST = 17,
    /// <summary>EXDEV: cross-device link.</summary>
    EXDEV = 18,
    /// <summary>ENODEV: no such device.</summary>
    ENODEV = 19,
    /// <summary>ENOTDIR: not a directory.</summary>
    ENOTDIR = 20,
    /// <summary>EINVAL: invalid argument.</summary>
    EINVAL = 22,
    /// <summary>ENFILE: too many open files in the system.</summary>
    ENFILE = 23,
    /// <summary>EMFILE: too many open files.</summary>
    EMFILE = 24,
    /// <summary>ENOSPC: no space left on device.</summary>
    ENOSPC = 28,
    /// <summary>ERANGE: result out of range.</summary>
    ERANGE = 34,
    /// <summary>ENAMETOOLONG: name too long.</summary>
    ENAMETOOLONG = 36,
    /// <summary>ENOSYS: function not implemented.</summary>
    ENOSYS = 38,
    /// <summary>ENOTEMPTY: directory not empty.</summary>
    ENOTEMPTY = 39,
    /// <summary>ENODATA: no data available.</summary>
    ENODATA = 61,
    /// <summary>ENONET: machine is not on the network.</summary>
    ENONET = 64,
    /// <summary>EPROTO: protocol error.</summary>
    EPROTO = 71,
    /// <summary>EOVERFLOW: value too large.</summary>
    EOVERFLOW = 75,
    /// <summary>EMSGSIZE: message too long.</summary>
    EMSGSIZE = 90,
    /// <summary>EPROTONOSUPPORT: protocol not supported.</summary>
    EPROTONOSUPPORT = 93,
    /// <summary>EOPNOTSUPP: operation not supported.</summary>
    EOPNOTSUPP = 95,
    /// <summary>EAFNOSUPPORT: address family not supported.</summary>
    EAFNOSUPPORT = 97,
    /// <summary>EADDRINUSE: address already in use.</summary>
    EADDRINUSE = 98,
    /// <summary>EADDRNOTAVAIL: cannot assign requested address (netlink: no such address).</summary>
    EADDRNOTAVAIL = 99,
    /// <summary>ENETDOWN: network is down.</summary>
    ENETDOWN = 100,
    /// <summary>ENETUNREACH: network is unreachable.</summary>
    ENETUNREACH = 101,
    /// <summary>ENOBUFS: no buffer space available (a monitor socket overflowed).</summary>
    ENOBUFS = 105,
    /// <summary>ETIMEDOUT: timed out.</summary>
    ETIMEDOUT = 110,
    /// <summary>EHOSTUNREACH: no route to host.</summary>
    EHOSTUNREACH = 113,
}
