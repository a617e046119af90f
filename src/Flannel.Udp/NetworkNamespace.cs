using System.Runtime.ExceptionServices;
using System.Runtime.Versioning;
using Flannel.Udp.Interop;

namespace Flannel.Udp;

/// <summary>
/// Runs work inside a network namespace on a dedicated, short-lived thread (never on a pool thread): TUN devices,
/// sockets and interface ioctls belong to the namespace of the thread that creates them.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class NetworkNamespace
{
    public static T Run<T>(string? path, Func<T> work)
    {
        if (path is null)
        {
            return work();
        }

        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                // Leave the process's file-system context alone: only the network namespace changes, and only for this thread.
                using var ns = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                if (Libc.SetNs((int)ns.DangerousGetHandle(), Libc.CLONE_NEWNET) != 0)
                {
                    throw Libc.Error($"setns {path}", Libc.LastError);
                }

                result = work();
            }
            catch (Exception ex)
            {
                error = ExceptionDispatchInfo.Capture(ex);
            }
        })
        {
            IsBackground = true,
            Name = "flannel-udp-netns",
        };
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }
}
