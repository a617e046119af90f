using System.Reflection;
using System.Runtime.CompilerServices;
using Xunit;

namespace Flannel.Node.Tests;

/// <summary>
/// Embedding requirement R3: the libraries keep no process-global mutable state and read no environment variables,
/// so several hosts (and several nodes) can live in one process without seeing each other.
/// </summary>
public sealed class NoAmbientStateTests
{
    private static readonly Assembly[] Libraries =
    [
        typeof(Flannel.Netlink.RtnetlinkClient).Assembly,
        typeof(FlannelNode).Assembly,
        typeof(Flannel.Vxlan.VxlanBackendFactory).Assembly,
        typeof(Flannel.HostGw.HostGwBackendFactory).Assembly,
        typeof(Flannel.Udp.UdpBackendFactory).Assembly,
        typeof(Flannel.Etcd.EtcdLeaseRegistry).Assembly,
        typeof(Flannel.Sqlite.SqliteLeaseRegistry).Assembly,
        typeof(Flannel.Cloud.Aws.AwsVpcBackendFactory).Assembly,
        typeof(Flannel.Cloud.Gce.GceBackendFactory).Assembly,
        typeof(Flannel.Cloud.Ali.AliVpcBackendFactory).Assembly,
    ];

    [Fact]
    public void NoLibraryHasAMutableStaticField()
    {
        var mutable = Libraries
            .SelectMany(a => a.GetTypes())
            .Where(t => t.GetCustomAttribute<CompilerGeneratedAttribute>() is null && !t.Name.Contains('<', StringComparison.Ordinal))
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(f => !f.IsInitOnly && !f.IsLiteral && !f.Name.Contains('<', StringComparison.Ordinal) && f.GetCustomAttribute<CompilerGeneratedAttribute>() is null)
            .Select(f => $"{f.DeclaringType!.FullName}.{f.Name}")
            .ToList();
        Assert.Empty(mutable);
    }

    [Fact]
    public void NoLibraryReadsTheEnvironmentExceptTheDocumentedAliVpcCredentialFallback()
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        var readers = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains("Environment.GetEnvironmentVariable", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(src, f))
            .ToList();
        Assert.Equal([Path.Combine("Flannel.Cloud.Ali", "AliVpcBackendOptions.cs")], readers);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Flannel.Net.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Flannel.Net.sln not found above " + AppContext.BaseDirectory);
    }
}
