using System.Runtime.InteropServices;

namespace Flannel.TestKit;

/// <summary>
/// Runs a function on a dedicated thread that first joins a network namespace (setns). Sockets created by the
/// function stay in that namespace after the thread ends, so the caller can use them from any thread.
/// </summary>
public static partial class NamespaceThread
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>Runs <paramref name="body"/> inside the namespace at <paramref name="path"/> and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="path">The namespace path, for example <c>/var/run/netns/fln-h1-0a1b2c3d</c>.</param>
    /// <param name="body">What to run; keep it short (create sockets, not long loops).</param>
    /// <returns>What <paramref name="body"/> returned.</returns>
    public static T Run<T>(string path, Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(body);
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                if (SetNs(ns.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({path}) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                result = body();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = "netns " + System.IO.Path.GetFileName(path),
        };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException($"work in namespace {path} did not finish in 30 s");
        }

        if (failure is not null)
        {
            throw new InvalidOperationException($"work in namespace {path} failed: {failure.Message}", failure);
        }

        return result;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
