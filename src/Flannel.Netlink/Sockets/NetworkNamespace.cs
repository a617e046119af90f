using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Flannel.Netlink.Interop;
using Microsoft.Win32.SafeHandles;

namespace Flannel.Netlink;

/// <summary>
/// An open handle to a network namespace. Pass it in <see cref="RtnetlinkClientOptions.Namespace"/> to open a client
/// "into" the namespace: the socket is created on a short-lived dedicated thread that enters the namespace and exits,
/// so no thread-pool thread ever changes namespace. The handle keeps the namespace alive until disposed.
/// </summary>
/// <example>
/// <code>
/// using var ns = NetworkNamespace.OpenByName("blue");
/// await using var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns });
/// </code>
/// </example>
public sealed class NetworkNamespace : IDisposable
{
    private readonly SafeFileHandle _handle;

    private NetworkNamespace(SafeFileHandle handle, string? path)
    {
        _handle = handle;
        Path = path;
    }

    /// <summary>The path this handle was opened from, or null for a namespace made by <see cref="Create"/>.</summary>
    public string? Path { get; }

    /// <summary>The open file handle (an nsfs descriptor).</summary>
    public SafeHandle Handle => _handle;

    internal int FileDescriptor
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return (int)_handle.DangerousGetHandle();
        }
    }

    /// <summary>Opens a namespace created by <c>ip netns add NAME</c>.</summary>
    /// <param name="name">The namespace name.</param>
    /// <param name="runDirectory">Where named namespaces are mounted; iproute2 uses /var/run/netns.</param>
    /// <returns>The handle.</returns>
    public static NetworkNamespace OpenByName(string name, string runDirectory = "/var/run/netns")
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"namespace name '{name}' must not contain '/'", nameof(name));
        }

        return OpenByPath(System.IO.Path.Combine(runDirectory, name));
    }

    /// <summary>Opens a namespace file such as /proc/PID/ns/net or a bind mount of one.</summary>
    /// <param name="path">The path.</param>
    /// <returns>The handle.</returns>
    public static NetworkNamespace OpenByPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            throw new NetlinkException("open " + path, errno);
        }

        return new NetworkNamespace(new SafeFileHandle(fd, ownsHandle: true), path);
    }

    /// <summary>Opens the network namespace this process started in (/proc/self/ns/net).</summary>
    /// <returns>The handle.</returns>
    public static NetworkNamespace OpenCurrent() => OpenByPath("/proc/self/ns/net");

    /// <summary>
    /// Creates a new, anonymous network namespace (only loopback, down). It lives as long as this handle or any
    /// socket or device inside it. Needs CAP_SYS_ADMIN.
    /// </summary>
    /// <returns>The handle.</returns>
    public static NetworkNamespace Create()
    {
        NetworkNamespace? result = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (Libc.Unshare(Libc.CLONE_NEWNET) != 0)
                {
                    throw new NetlinkException("unshare(CLONE_NEWNET)", (Errno)Marshal.GetLastPInvokeError());
                }

                result = OpenByPath("/proc/thread-self/ns/net");
            }
#pragma warning disable CA1031 // rethrown on the calling thread
            catch (Exception ex)
#pragma warning restore CA1031
            {
                error = ex;
            }
        })
        { IsBackground = true, Name = "netns-create" };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            throw error;
        }

        return new NetworkNamespace(result!._handle, null);
    }

    /// <summary>Runs <paramref name="action"/> on a short-lived dedicated thread that has entered this namespace.</summary>
    internal T RunInside<T>(Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (Libc.SetNs(_handle, Libc.CLONE_NEWNET) != 0)
                {
                    throw new NetlinkException("setns", (Errno)Marshal.GetLastPInvokeError());
                }

                result = action();
            }
#pragma warning disable CA1031 // rethrown on the calling thread
            catch (Exception ex)
#pragma warning restore CA1031
            {
                error = ex;
            }
        })
        { IsBackground = true, Name = "netns-enter" };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            throw error;
        }

        return result;
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}
