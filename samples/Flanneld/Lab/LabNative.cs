using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Flannel.Netlink;

namespace Flanneld.Labs;

/// <summary>
/// The few system calls the lab needs that Flannel.Netlink does not offer: named namespaces (bind mounts under
/// /var/run/netns, as iproute2 makes them), entering a namespace on a dedicated thread, sysctls
/// and signals.
/// </summary>
internal static partial class LabNative
{
    public const string NetnsDirectory = "/var/run/netns";

    private const int CloneNewNet = 0x40000000;
    private const ulong MsBind = 4096;
    private const ulong MsRec = 16384;
    private const ulong MsShared = 1 << 20;
    private const int MntDetach = 2;
    private const int EINVAL = 22;
    private const int ENOENT = 2;
    private const int EEXIST = 17;

    /// <summary>
    /// Creates a named network namespace: a new namespace bind-mounted on /var/run/netns/NAME, with
    /// /var/run/netns made a shared mount point first so that the mount propagates (what <c>ip netns add</c> does).
    /// </summary>
    public static void CreateNamedNamespace(string name)
    {
        Directory.CreateDirectory(NetnsDirectory);
        MakeNetnsDirectoryShared();
        var path = Path.Combine(NetnsDirectory, name);
        var fd = Open(path, 0x40 | 0x80 | 0x80000, 0); // O_CREAT | O_EXCL | O_CLOEXEC, mode 0 as iproute2
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno == EEXIST ? $"network namespace {name} already exists" : $"cannot create {path}: {Describe(errno)}");
        }

        Close(fd);
        try
        {
            using var ns = NetworkNamespace.Create();
            var source = "/proc/self/fd/" + ns.Handle.DangerousGetHandle().ToInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (Mount(source, path, "none", MsBind, IntPtr.Zero) != 0)
            {
                throw new IOException($"cannot bind-mount the new namespace on {path}: {Describe(Marshal.GetLastPInvokeError())}");
            }
        }
        catch
        {
            _ = Unlink(path);
            throw;
        }
    }

    /// <summary>Deletes a named namespace (lazy unmount, then unlink); false when it did not exist.</summary>
    public static bool DeleteNamedNamespace(string name)
    {
        var path = Path.Combine(NetnsDirectory, name);
        if (!File.Exists(path))
        {
            return false;
        }

        if (Umount2(path, MntDetach) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is not EINVAL and not ENOENT)
            {
                throw new IOException($"cannot unmount {path}: {Describe(errno)}");
            }
        }

        if (Unlink(path) != 0 && Marshal.GetLastPInvokeError() is var e && e != ENOENT)
        {
            throw new IOException($"cannot remove {path}: {Describe(e)}");
        }

        return true;
    }

    /// <summary>Runs <paramref name="body"/> on a dedicated thread inside the namespace at <paramref name="path"/>.</summary>
    public static T RunInNamespace<T>(string path, Func<T> body, TimeSpan timeout)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                if (SetNs(ns, CloneNewNet) != 0)
                {
                    throw new IOException($"cannot enter the network namespace {path}: {Describe(Marshal.GetLastPInvokeError())}");
                }

                result = body();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { IsBackground = true, Name = "lab netns " + Path.GetFileName(path) };
        thread.Start();
        if (!thread.Join(timeout))
        {
            throw new TimeoutException($"work inside {path} did not finish in {timeout.TotalSeconds:0} s");
        }

        if (failure is not null)
        {
            throw failure;
        }

        return result;
    }

    /// <summary>Writes a sysctl below /proc/sys inside a namespace (for example net/ipv4/ip_forward).</summary>
    public static void Sysctl(string namespacePath, string key, string value) =>
        RunInNamespace(namespacePath, () =>
        {
            File.WriteAllText("/proc/sys/" + key, value);
            return 0;
        }, TimeSpan.FromSeconds(10));

    /// <summary>Sends a signal; false when the process does not exist.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    private static void MakeNetnsDirectoryShared()
    {
        if (Mount("none", NetnsDirectory, null, MsShared | MsRec, IntPtr.Zero) == 0)
        {
            return;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno != EINVAL)
        {
            throw new IOException($"cannot make {NetnsDirectory} a shared mount point: {Describe(errno)}");
        }

        // Not a mount point yet: bind it onto itself first, as iproute2 does.
        if (Mount(NetnsDirectory, NetnsDirectory, "none", MsBind | MsRec, IntPtr.Zero) != 0 ||
            Mount("none", NetnsDirectory, null, MsShared | MsRec, IntPtr.Zero) != 0)
        {
            throw new IOException($"cannot make {NetnsDirectory} a shared mount point: {Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    private static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno) + " (errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")";

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string source, string target, string? fstype, ulong flags, IntPtr data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeHandle fd, int nstype);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
