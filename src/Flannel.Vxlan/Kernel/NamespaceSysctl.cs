using System.Runtime.InteropServices;

namespace Flannel.Vxlan;

/// <summary>Writes a sysctl inside a network namespace (sysctl files resolve against the opening thread's namespace).</summary>
internal static partial class NamespaceSysctl
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>Writes <paramref name="value"/> to /proc/sys/<paramref name="key"/>; returns an error text instead of throwing.</summary>
    public static string? TryWrite(string? namespacePath, string key, string value)
    {
        string? error = null;
        void Write()
        {
            try
            {
                File.WriteAllText("/proc/sys/" + key, value);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error = ex.Message;
            }
        }

        if (namespacePath is null)
        {
            Write();
            return error;
        }

        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle(namespacePath, FileMode.Open, FileAccess.Read);
                if (SetNs(ns, CloneNewNet) != 0)
                {
                    error = $"setns({namespacePath}) failed: errno {Marshal.GetLastPInvokeError()}";
                    return;
                }

                Write();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error = ex.Message;
            }
        })
        {
            IsBackground = true,
            Name = "flannel-sysctl",
        };
        thread.Start();
        return thread.Join(TimeSpan.FromSeconds(5)) ? error : "timed out";
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeHandle fd, int nstype);
}
