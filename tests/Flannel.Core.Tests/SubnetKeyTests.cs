using System.Net;
using Xunit;

namespace Flannel.Core.Tests;

public class SubnetKeyTests
{
    [Theory]
    [InlineData("10.5.52.0-24", "10.5.52.0/24", null)]
    [InlineData("10.5.52.0-24&fc00:0:0:34::-64", "10.5.52.0/24", "fc00:0:0:34::/64")]
    [InlineData("10.244.0.0-16&2001:cafe:42::-56", "10.244.0.0/16", "2001:cafe:42::/56")]
    [InlineData("0.0.0.0-0", "0.0.0.0/0", null)]
    public void GoldenKeysRoundTrip(string text, string v4, string? v6)
    {
        var key = SubnetKey.Parse(text);
        Assert.Equal(IPNetwork.Parse(v4), key.Subnet);
        Assert.Equal(v6 is null ? null : IPNetwork.Parse(v6), key.IPv6Subnet);
        Assert.Equal(text, key.ToString());
        Assert.Equal(text, SubnetKey.Format(key.Subnet, key.IPv6Subnet));
    }

    [Fact]
    public void FullStoreKeyUsesTheLastSegment()
    {
        var key = SubnetKey.Parse("/coreos.com/network/subnets/10.5.52.0-24&fc00:0:0:34::-64");
        Assert.Equal(IPNetwork.Parse("10.5.52.0/24"), key.Subnet);
        Assert.Equal(IPNetwork.Parse("fc00:0:0:34::/64"), key.IPv6Subnet);
    }

    [Theory]
    [InlineData("", "not <address>-<prefix length>")]
    [InlineData("config", "not <address>-<prefix length>")]
    [InlineData("10.5.52.0/24", "not <address>-<prefix length>")]
    [InlineData("10.5.52.0-", "not <address>-<prefix length>")]
    [InlineData("10.5.52.0-33", "larger than 32")]
    [InlineData("10.5.52.0-x", "not a number")]
    [InlineData("10.5.52.0-024", "not a number")]
    [InlineData("10.5.52.7-24", "host bits")]
    [InlineData("010.5.52.0-24", "not a dotted-quad")]
    [InlineData("10.5.52-24", "not a dotted-quad")]
    [InlineData("256.5.52.0-24", "not a dotted-quad")]
    [InlineData("fc00::-64", "larger than 32")]
    [InlineData("fc00::-24", "not a dotted-quad")]
    [InlineData("10.5.52.0-24&", "not <address>-<prefix length>")]
    [InlineData("10.5.52.0-24&fc00:0:0:34::-129", "larger than 128")]
    [InlineData("10.5.52.0-24&FC00:0:0:34::-64", "lower-case")]
    [InlineData("10.5.52.0-24&fc00:0000:0:34::-64", "canonical")]
    [InlineData("10.5.52.0-24&10.0.0.0-64", "lower-case IPv6")]
    [InlineData("10.5.52.0-24&fc00::1-64", "host bits")]
    public void MalformedKeysGiveLeaseFormatException(string text, string why)
    {
        var ex = Assert.Throws<LeaseFormatException>(() => SubnetKey.Parse(text));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Contains(text, ex.Message, StringComparison.Ordinal);
        Assert.False(SubnetKey.TryParse(text, out _));
    }

    [Fact]
    public void FromLeaseNeedsIPv4()
    {
        Assert.Throws<ArgumentException>(() => SubnetKey.FromLease(new Lease { IPv6Subnet = IPNetwork.Parse("fc00::/64") }));
        Assert.Equal("10.1.2.0-24", SubnetKey.FromLease(new Lease { Subnet = IPNetwork.Parse("10.1.2.0/24") }).ToString());
    }
}
