using System.Security.Cryptography;
using System.Text.Json;

namespace Flannel.TestKit;

/// <summary>
/// A fresh, uniquely named network namespace (<c>fln-XXXXXXXX</c>) for one test, with loopback up; disposing it
/// deletes it, and everything inside it (devices, routes, neighbours) goes with it.
/// </summary>
public sealed class TestNamespace : IDisposable
{
    /// <summary>The prefix of every namespace and device the tests create.</summary>
    public const string Prefix = "fln-";

    private bool _disposed;

    private TestNamespace(string name) => Name = name;

    /// <summary>The namespace name (as in <c>ip netns list</c>).</summary>
    public string Name { get; }

    /// <summary>The namespace's path under /var/run/netns.</summary>
    public string Path => "/var/run/netns/" + Name;

    /// <summary>Creates a namespace; fails with the privilege probe's reason when namespaces are unavailable.</summary>
    /// <param name="hint">An optional short word included in the name, to tell namespaces apart when debugging.</param>
    /// <returns>The namespace.</returns>
    public static TestNamespace Create(string? hint = null)
    {
        Privileges.Require();
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var name = Prefix + (string.IsNullOrEmpty(hint) ? string.Empty : hint[..Math.Min(hint.Length, 6)] + "-") + suffix;
        Shell.Check("ip", "netns", "add", name);
        var ns = new TestNamespace(name);
        try
        {
            ns.Ip("link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }

        return ns;
    }

    /// <summary>Runs <c>ip -n NAME args…</c> and returns its output; throws when it fails.</summary>
    /// <param name="args">The ip arguments.</param>
    /// <returns>Standard output.</returns>
    public string Ip(params string[] args) => Shell.Check("ip", ["-n", Name, .. args]);

    /// <summary>Runs <c>ip -n NAME -j args…</c> and parses the JSON it prints (an empty array when it prints nothing).</summary>
    /// <param name="args">The ip arguments, without <c>-j</c>.</param>
    /// <returns>The parsed JSON array.</returns>
    public JsonElement IpJson(params string[] args) => ParseJson(Shell.Check("ip", ["-n", Name, "-j", .. args]));

    /// <summary>Runs <c>bridge -n NAME -j args…</c> and parses its JSON.</summary>
    /// <param name="args">The bridge arguments, without <c>-j</c>.</param>
    /// <returns>The parsed JSON array.</returns>
    public JsonElement BridgeJson(params string[] args) => ParseJson(Shell.Check("bridge", ["-n", Name, "-j", .. args]));

    /// <summary>Runs a program inside the namespace (<c>ip netns exec</c>).</summary>
    /// <param name="file">The program.</param>
    /// <param name="args">Its arguments.</param>
    /// <param name="timeout">The time limit.</param>
    /// <returns>Exit code and output.</returns>
    public (int ExitCode, string Stdout, string Stderr) Exec(string file, IEnumerable<string> args, TimeSpan? timeout = null) =>
        Shell.Run("ip", ["netns", "exec", Name, file, .. args], timeout);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Shell.Run("ip", ["netns", "del", Name], TimeSpan.FromSeconds(30));
    }

    private static JsonElement ParseJson(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return JsonDocument.Parse("[]").RootElement.Clone();
        }

        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }
}
