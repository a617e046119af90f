using System.Diagnostics;

namespace Flannel.TestKit;

/// <summary>
/// Probes, once per process, whether this process can do what privileged tests need: create and delete a
/// network namespace with iproute2 (which needs CAP_SYS_ADMIN and CAP_NET_ADMIN) and create a vxlan device in it.
/// </summary>
public static class Privileges
{
    private static readonly Lazy<string?> Probe = new(RunProbe);

    /// <summary>Environment variable that turns privileged skips into failures (CI sets it to 1).</summary>
    public const string RequireVariable = "FLANNEL_TEST_REQUIRE_PRIVILEGED";

    /// <summary>True when privileged tests can run here.</summary>
    public static bool Available => Probe.Value is null;

    /// <summary>True when privileged tests must not be skipped (CI).</summary>
    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) is "1" or "true";

    /// <summary>Why privileged tests cannot run here, or null when they can.</summary>
    public static string? UnavailableReason => Probe.Value;

    /// <summary>Skip text used by <see cref="PrivilegedFactAttribute"/>.</summary>
    public static string SkipReason =>
        $"needs network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN): {UnavailableReason ?? "available"}; set {RequireVariable}=1 to fail instead of skipping";

    /// <summary>Throws when privileged tests cannot run; call at the start of a privileged test body or fixture.</summary>
    public static void Require()
    {
        if (Probe.Value is { } reason)
        {
            throw new InvalidOperationException($"privileged test cannot run: {reason}");
        }
    }

    private static string? RunProbe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux";
        }

        var name = "fln-probe-" + Environment.ProcessId;
        try
        {
            var (code, _, err) = Shell.Run("ip", ["netns", "add", name], TimeSpan.FromSeconds(10));
            if (code != 0)
            {
                return $"'ip netns add' failed: {err.Trim()}";
            }

            try
            {
                var (vcode, _, verr) = Shell.Run("ip", ["-n", name, "link", "add", "fln-pv0", "type", "vxlan", "id", "1", "dstport", "8472"], TimeSpan.FromSeconds(10));
                if (vcode != 0)
                {
                    return $"cannot create a vxlan device in a namespace: {verr.Trim()}";
                }
            }
            finally
            {
                Shell.Run("ip", ["netns", "del", name], TimeSpan.FromSeconds(10));
            }

            return null;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"iproute2 is not usable: {ex.Message}";
        }
    }
}
