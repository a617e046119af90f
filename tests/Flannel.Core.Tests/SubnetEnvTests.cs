using System.Net;
using Xunit;

namespace Flannel.Core.Tests;

public class SubnetEnvTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string DualGolden =
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.5.1/24\nFLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";

    [Fact]
    public void GoldenFormatFromALease()
    {
        var config = NetworkConfig.Parse("""{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"2001:cafe:42::/56"}""").Validate();
        var lease = new Lease { Subnet = IPNetwork.Parse("10.244.5.0/24"), IPv6Subnet = IPNetwork.Parse("2001:cafe:42::/64") };
        var env = SubnetEnvironment.FromLease(config, lease, 1450, ipMasq: true);
        Assert.Equal(DualGolden, env.Format());
    }

    [Fact]
    public void IPv4OnlyGolden()
    {
        var env = new SubnetEnvironment { Network = IPNetwork.Parse("10.244.0.0/16"), Subnet = IPNetwork.Parse("10.244.5.0/24"), Mtu = 1500, IPMasq = false };
        Assert.Equal("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.5.1/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n", env.Format());
        Assert.Equal(env, SubnetEnvironment.Parse(env.Format()));
    }

    [Fact]
    public void BackendTypeExtensionIsTrailingAndOptional()
    {
        var env = new SubnetEnvironment { Network = IPNetwork.Parse("10.1.0.0/16"), Subnet = IPNetwork.Parse("10.1.2.0/24"), Mtu = 1450, BackendType = BackendType.Vxlan };
        Assert.EndsWith("FLANNEL_IPMASQ=false\nFLANNEL_BACKEND_TYPE=vxlan\n", env.Format(), StringComparison.Ordinal);
        Assert.Equal(BackendType.Vxlan, SubnetEnvironment.Parse(env.Format()).BackendType);
    }

    [Fact]
    public void ReadsPreviousSubnetsAsNetworks()
    {
        var env = SubnetEnvironment.Parse(DualGolden);
        Assert.Equal(IPNetwork.Parse("10.244.5.0/24"), env.Subnet);
        Assert.Equal(IPNetwork.Parse("2001:cafe:42::/64"), env.IPv6Subnet);
        Assert.Equal(IPNetwork.Parse("10.244.0.0/16"), env.Network);
        Assert.Equal(1450, env.Mtu);
        Assert.True(env.IPMasq);
        Assert.Equal(DualGolden, env.Format());
    }

    [Fact]
    public void ToleratesDotenvStyle()
    {
        var env = SubnetEnvironment.Parse("# written by hand\r\n\r\nexport FLANNEL_SUBNET=\"10.5.52.1/24\"\r\n FLANNEL_MTU = 1400 \nFLANNEL_IPMASQ='false'\nOTHER=thing\nFLANNEL_NETWORK=10.5.0.0/16,10.6.0.0/16\n");
        Assert.Equal(IPNetwork.Parse("10.5.52.0/24"), env.Subnet);
        Assert.Equal(1400, env.Mtu);
        Assert.False(env.IPMasq);
        Assert.Null(env.Network); // lists are not a single previous value
    }

    [Theory]
    [InlineData("FLANNEL_SUBNET=10.5.52.1", "FLANNEL_SUBNET")]
    [InlineData("FLANNEL_SUBNET=banana/24", "FLANNEL_SUBNET")]
    [InlineData("FLANNEL_IPV6_SUBNET=fc00::1/129", "FLANNEL_IPV6_SUBNET")]
    [InlineData("FLANNEL_MTU=big", "FLANNEL_MTU")]
    [InlineData("FLANNEL_MTU=70000", "FLANNEL_MTU")]
    [InlineData("FLANNEL_IPMASQ=maybe", "FLANNEL_IPMASQ")]
    public void BadValuesNameTheKey(string line, string key)
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => SubnetEnvironment.Parse(line + "\n"));
        Assert.Equal(key, ex.Field);
        Assert.Contains(line[(line.IndexOf('=') + 1)..], ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LineWithoutEqualsIsAnError()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => SubnetEnvironment.Parse("FLANNEL_MTU=1450\nnonsense\n"));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FileIsWrittenAtomicallyWithFlannelModes()
    {
        var root = Path.Combine(Path.GetTempPath(), "fln-subnetenv-" + Guid.NewGuid().ToString("N"));
        try
        {
            var path = Path.Combine(root, "run", "flannel", "subnet.env");
            Assert.Null(await SubnetEnvFile.ReadAsync(path, Ct));
            var env = SubnetEnvironment.Parse(DualGolden);
            await SubnetEnvFile.WriteAsync(path, env, Ct);
            Assert.Equal(DualGolden, await File.ReadAllTextAsync(path, Ct));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(path));
                Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
            }

            await SubnetEnvFile.WriteAsync(path, env with { Mtu = 1400 }, Ct);
            Assert.Equal(1400, (await SubnetEnvFile.ReadAsync(path, Ct))!.Mtu);
            Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temp files left behind

            await File.WriteAllTextAsync(path, "FLANNEL_SUBNET=nope\n", Ct);
            var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => SubnetEnvFile.ReadAsync(path, Ct));
            Assert.Equal("FLANNEL_SUBNET", ex.Field);
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task UnwritablePathsGiveOneClearError()
    {
        var root = Path.Combine(Path.GetTempPath(), "fln-subnetenv-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            var env = SubnetEnvironment.Parse(DualGolden);

            // A parent that is a file (the directory was mistyped): .NET alone says "file already exists".
            var file = Path.Combine(root, "afile");
            await File.WriteAllTextAsync(file, "x", Ct);
            var under = Path.Combine(file, "subnet.env");
            Assert.Null(await SubnetEnvFile.ReadAsync(under, Ct));
            var ex = await Assert.ThrowsAsync<FlannelException>(() => SubnetEnvFile.WriteAsync(under, env, Ct));
            Assert.Equal($"cannot write the subnet file {under}: {file} is a file, not a directory", ex.Message);

            // A directory given as the file: named as such, for writing and reading.
            var dir = Path.Combine(root, "adir");
            Directory.CreateDirectory(dir);
            ex = await Assert.ThrowsAsync<FlannelException>(() => SubnetEnvFile.WriteAsync(dir, env, Ct));
            Assert.Equal($"cannot write the subnet file {dir}: it is a directory; give a file path such as /run/flannel/subnet.env", ex.Message);
            ex = await Assert.ThrowsAsync<FlannelException>(() => SubnetEnvFile.ReadAsync(dir, Ct));
            Assert.StartsWith($"cannot read the subnet file {dir}: it is a directory", ex.Message, StringComparison.Ordinal);
            ex = await Assert.ThrowsAsync<FlannelException>(() => SubnetEnvFile.WriteAsync(dir + "/", env, Ct));
            Assert.Contains("it is a directory", ex.Message, StringComparison.Ordinal);
            Assert.Equal(["afile"], Directory.GetFileSystemEntries(root).Select(Path.GetFileName).Where(n => n != "adir"));
            Assert.Empty(Directory.GetFileSystemEntries(dir)); // no temporary file left behind
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
