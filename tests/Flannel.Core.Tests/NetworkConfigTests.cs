using System.Net;
using System.Text;
using Xunit;

namespace Flannel.Core.Tests;

public class NetworkConfigTests
{
    [Fact]
    public void KubeManifestExample()
    {
        var c = NetworkConfig.Parse("""{"Network": "10.244.0.0/16", "EnableNFTables": false, "Backend": {"Type": "vxlan"}}""");
        Assert.Equal(IPNetwork.Parse("10.244.0.0/16"), c.Network);
        Assert.True(c.EnableIPv4);
        Assert.False(c.EnableIPv6);
        Assert.Equal(BackendType.Vxlan, c.BackendType);
        Assert.False(c.BackendDefaulted);
        Assert.Equal("vxlan", c.Backend!.Value.GetProperty("Type").GetString());
    }

    [Fact]
    public void FieldNamesAreCaseInsensitiveAndUnknownFieldsIgnored()
    {
        var c = NetworkConfig.Parse("""{"network":"10.1.0.0/16","SUBNETLEN":20,"enableipv6":true,"ipv6network":"fc00::/48","whatever":[1,2],"backend":{"type":"Host-GW","extra":1}}""");
        Assert.Equal(IPNetwork.Parse("10.1.0.0/16"), c.Network);
        Assert.Equal(20, c.SubnetLen);
        Assert.True(c.EnableIPv6);
        Assert.Equal(IPNetwork.Parse("fc00::/48"), c.IPv6Network);
        Assert.Equal(BackendType.HostGw, c.BackendType);
    }

    [Fact]
    public void UTF8OverloadGivesTheSameResult()
    {
        const string json = """{"Network":"10.1.0.0/16","Backend":{"Type":"udp","Port":8285}}""";
        Assert.Equal(NetworkConfig.Parse(json), NetworkConfig.Parse(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void CidrsAreNormalisedToTheNetworkAddress()
    {
        var c = NetworkConfig.Parse("""{"Network":"10.244.3.7/16","IPv6Network":"fc00::1234/48"}""");
        Assert.Equal(IPNetwork.Parse("10.244.0.0/16"), c.Network);
        Assert.Equal(IPNetwork.Parse("fc00::/48"), c.IPv6Network);
    }

    [Fact]
    public void NullLeavesDefaultsAndLastDuplicateWins()
    {
        var c = NetworkConfig.Parse("""{"EnableIPv4":null,"Network":"10.1.0.0/16","network":"10.2.0.0/16","SubnetLen":null}""");
        Assert.True(c.EnableIPv4);
        Assert.Equal(IPNetwork.Parse("10.2.0.0/16"), c.Network);
        Assert.Equal(0, c.SubnetLen);
    }

    [Fact]
    public void MissingBackendDefaultsToVxlanObservably()
    {
        var c = NetworkConfig.Parse("""{"Network":"10.1.0.0/16"}""");
        Assert.Equal(BackendType.Vxlan, c.BackendType);
        Assert.True(c.BackendDefaulted);
        Assert.Null(c.Backend);
        var n = NetworkConfig.Parse("""{"Network":"10.1.0.0/16","Backend":null}""");
        Assert.True(n.BackendDefaulted);
    }

    [Theory]
    [InlineData("10.244.0.0/16", 24, "10.244.1.0", "10.244.255.0")]
    [InlineData("10.0.0.0/22", 24, "10.0.1.0", "10.0.3.0")]
    [InlineData("10.0.0.0/8", 24, "10.0.1.0", "10.255.255.0")]
    [InlineData("10.0.0.0/23", 25, "10.0.0.128", "10.0.1.128")]
    [InlineData("10.0.0.0/24", 26, "10.0.0.64", "10.0.0.192")]
    [InlineData("10.0.0.0/28", 30, "10.0.0.4", "10.0.0.12")]
    public void IPv4DerivationMatchesFlannel(string network, int len, string min, string max)
    {
        var c = new NetworkConfig { Network = IPNetwork.Parse(network) }.Validate();
        Assert.Equal(len, c.SubnetLen);
        Assert.Equal(IPAddress.Parse(min), c.SubnetMin);
        Assert.Equal(IPAddress.Parse(max), c.SubnetMax);
        Assert.Equal(c, c.Validate());
    }

    [Theory]
    [InlineData("fc00::/48", 64, "fc00:0:0:1::", "fc00:0:0:ffff::")]
    [InlineData("2001:cafe:42::/56", 64, "2001:cafe:42:1::", "2001:cafe:42:ff::")]
    [InlineData("fc00::/62", 64, "fc00:0:0:1::", "fc00:0:0:3::")]
    [InlineData("fc00::/64", 66, "fc00::4000:0:0:0", "fc00::c000:0:0:0")]
    [InlineData("fc00::/124", 126, "fc00::4", "fc00::c")]
    public void IPv6DerivationMatchesFlannel(string network, int len, string min, string max)
    {
        var c = new NetworkConfig { EnableIPv4 = false, EnableIPv6 = true, IPv6Network = IPNetwork.Parse(network) }.Validate();
        Assert.Equal(len, c.IPv6SubnetLen);
        Assert.Equal(IPAddress.Parse(min), c.IPv6SubnetMin);
        Assert.Equal(IPAddress.Parse(max), c.IPv6SubnetMax);
        Assert.Equal(c, c.Validate());
    }

    [Fact]
    public void ExplicitValuesAreKept()
    {
        var c = NetworkConfig.Parse("""{"Network":"10.0.0.0/16","SubnetLen":20,"SubnetMin":"10.0.32.0","SubnetMax":"10.0.64.0"}""").Validate();
        Assert.Equal(20, c.SubnetLen);
        Assert.Equal(IPAddress.Parse("10.0.32.0"), c.SubnetMin);
        Assert.Equal(IPAddress.Parse("10.0.64.0"), c.SubnetMax);
    }

    [Fact]
    public void DualStackDerivesBoth()
    {
        var c = NetworkConfig.Parse("""{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"2001:cafe:42::/56","Backend":{"Type":"vxlan"}}""").Validate();
        Assert.Equal(24, c.SubnetLen);
        Assert.Equal(64, c.IPv6SubnetLen);
        Assert.Equal(IPAddress.Parse("2001:cafe:42:1::"), c.IPv6SubnetMin);
    }

    public static TheoryData<string, string, string> ParseErrors => new()
    {
        { "", "", "network configuration is empty: write a JSON object like {\"Network\"" },
        { " \n\t", "", "network configuration is empty" },
        { "{\"Network\": \"10.0.0.0/16\",\n  \"SubnetLen\": }", "", "not valid JSON at line 2" },
        { "[1]", "", "must be a JSON object" },
        { "\"10.0.0.0/8\"", "", "not a string" },
        { """{"Network": 10}""", "Network", "must be a string holding an IPv4 CIDR" },
        { """{"Network": "10.0.0.0"}""", "Network", "must be an IPv4 CIDR such as \"10.244.0.0/16\"" },
        { """{"Network": "10.0.0.0/33"}""", "Network", "must be an IPv4 CIDR" },
        { """{"Network": "fc00::/48"}""", "Network", "must be an IPv4 network (put IPv6 ranges in IPv6Network)" },
        { """{"IPv6Network": "10.0.0.0/8"}""", "IPv6Network", "must be an IPv6 network (put IPv4 ranges in Network)" },
        { """{"IPv6Network": "::ffff:10.0.0.0/104"}""", "IPv6Network", "must be an IPv6 network" },
        { """{"SubnetLen": "x"}""", "SubnetLen", "must be an integer prefix length, not a string" },
        { """{"SubnetLen": 24.5}""", "SubnetLen", "must be an integer prefix length" },
        { """{"SubnetLen": 1e1}""", "SubnetLen", "must be an integer prefix length" },
        { """{"SubnetLen": 99999999999}""", "SubnetLen", "must be an integer prefix length" },
        { """{"EnableIPv6": "true"}""", "EnableIPv6", "must be true or false, not a string" },
        { """{"EnableIPv4": 1}""", "EnableIPv4", "must be true or false, not a number" },
        { """{"SubnetMin": "10.0.1.0/24"}""", "SubnetMin", "must be an IPv4 address (a plain address, not a CIDR)" },
        { """{"SubnetMax": "fc00::1"}""", "SubnetMax", "must be an IPv4 address" },
        { """{"IPv6SubnetMin": "10.0.0.1"}""", "IPv6SubnetMin", "must be an IPv6 address" },
        { """{"Backend": "vxlan"}""", "Backend", "must be a JSON object such as {\"Type\": \"vxlan\"}, not a string" },
        { """{"Backend": {}}""", "Backend.Type", "is missing" },
        { """{"Backend": {"Port": 8285}}""", "Backend.Type", "is missing" },
        { """{"Backend": {"Type": 5}}""", "Backend.Type", "must be a string" },
        { """{"Backend": {"Type": "  "}}""", "Backend.Type", "must name a backend" },
    };

    [Theory]
    [InlineData("{\"Network\": \"10.0.0.0/16\",}", "network configuration is not valid JSON at line 1, byte 27: The JSON object contains a trailing comma at the end (JSON allows none).")]
    [InlineData("{\"Network\": \"10.0.0.0/16\"", "network configuration is not valid JSON at line 1, byte 26: Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed.")]
    [InlineData("{'Network': 1}", "network configuration is not valid JSON at line 1, byte 2: ''' is an invalid start of a property name. Expected a '\"'.")]
    public void SyntaxErrorsAreOneLineForPeople(string json, string expected)
    {
        // No "Change the reader options", "isFinalBlock" or a second, zero-based "LineNumber: 0 | BytePositionInLine" position.
        var ex = Assert.Throws<FlannelConfigurationException>(() => NetworkConfig.Parse(json));
        Assert.Equal(expected, ex.Message);
    }

    [Theory]
    [MemberData(nameof(ParseErrors))]
    public void ParseErrorsNameTheFieldAndRule(string json, string field, string rule)
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => NetworkConfig.Parse(json));
        Assert.Contains(rule, ex.Message, StringComparison.Ordinal);
        if (field.Length > 0)
        {
            Assert.Equal(field, ex.Field);
            Assert.StartsWith(field + ":", ex.Message, StringComparison.Ordinal);
        }
    }

    public static TheoryData<string, string, string?, string> ValidationErrors => new()
    {
        { """{}""", "Network", null, "please define a correct Network parameter" },
        { """{"Network":"0.0.0.0/0"}""", "Network", "0.0.0.0/0", "please define a correct Network parameter" },
        { """{"Network":"10.0.0.0/16","SubnetLen":31}""", "SubnetLen", "31", "SubnetLen must be less than /31" },
        { """{"Network":"10.0.0.0/16","SubnetLen":17}""", "SubnetLen", "17", "must be able to accommodate at least four subnets" },
        { """{"Network":"10.0.0.0/16","SubnetLen":-1}""", "SubnetLen", "-1", "must be between 18 and 30" },
        { """{"Network":"10.0.0.0/29"}""", "Network", "10.0.0.0/29", "Network is too small. Minimum useful network prefix is /28" },
        { """{"Network":"10.0.0.0/16","SubnetMin":"10.1.0.0"}""", "SubnetMin", "10.1.0.0", "SubnetMin is not in the range of the Network" },
        { """{"Network":"10.0.0.0/16","SubnetMax":"11.0.0.0"}""", "SubnetMax", "11.0.0.0", "SubnetMax is not in the range of the Network" },
        { """{"Network":"10.0.0.0/16","SubnetMin":"10.0.1.128"}""", "SubnetMin", "10.0.1.128", "SubnetMin is not on a SubnetLen boundary: 10.0.1.128" },
        { """{"Network":"10.0.0.0/16","SubnetMax":"10.0.9.1"}""", "SubnetMax", "10.0.9.1", "SubnetMax is not on a SubnetLen boundary: 10.0.9.1" },
        { """{"Network":"10.0.0.0/16","SubnetMin":"10.0.9.0","SubnetMax":"10.0.3.0"}""", "SubnetMin", "10.0.9.0", "must not be greater than SubnetMax (10.0.3.0)" },
        { """{"Network":"10.0.0.0/16","EnableIPv4":false}""", "EnableIPv4", "false", "at least one of EnableIPv4 and EnableIPv6 must be true" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true}""", "IPv6Network", null, "please define a correct IPv6Network parameter" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":127}""", "IPv6SubnetLen", "127", "IPv6SubnetLen must be less than /127" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":49}""", "IPv6SubnetLen", "49", "must be able to accommodate at least four subnets" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/125"}""", "IPv6Network", "fc00::/125", "IPv6Network is too small. Minimum useful network prefix is /124" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMin":"fc01::"}""", "IPv6SubnetMin", "fc01::", "IPv6SubnetMin is not in the range of the IPv6Network" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMax":"fc00:0:0:5::1"}""", "IPv6SubnetMax", "fc00:0:0:5::1", "IPv6SubnetMax is not on a IPv6SubnetLen boundary" },
        { """{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMin":"fc00:0:0:9::","IPv6SubnetMax":"fc00:0:0:5::"}""", "IPv6SubnetMin", "fc00:0:0:9::", "must not be greater than IPv6SubnetMax" },
    };

    [Theory]
    [MemberData(nameof(ValidationErrors))]
    public void ValidationErrorsNameTheFieldValueAndRule(string json, string field, string? value, string rule)
    {
        var config = NetworkConfig.Parse(json);
        var ex = Assert.Throws<FlannelConfigurationException>(() => config.Validate());
        Assert.Equal(field, ex.Field);
        Assert.Equal(value, ex.Value);
        Assert.Contains(rule, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CodeBuiltConfigWithWrongFamilyIsRejected()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => new NetworkConfig { Network = IPNetwork.Parse("fc00::/48") }.Validate());
        Assert.Equal("Network", ex.Field);
        var ex2 = Assert.Throws<FlannelConfigurationException>(() => new NetworkConfig { Network = IPNetwork.Parse("10.0.0.0/8"), BackendType = default }.Validate());
        Assert.Equal("Backend.Type", ex2.Field);
    }

    [Fact]
    public void ToJsonRoundTripsAndMakesTheBackendExplicit()
    {
        var c = NetworkConfig.Parse("""{"Network":"10.244.0.0/16","SubnetLen":25,"EnableIPv6":true,"IPv6Network":"fc00::/48","EnableNFTables":true,"Backend":{"type":"VXLAN","VNI":4096,"Port":4789}}""");
        var json = c.ToJson();
        Assert.Contains("\"Type\": \"vxlan\"", json, StringComparison.Ordinal);
        var back = NetworkConfig.Parse(json);
        Assert.Equal(c.Network, back.Network);
        Assert.Equal(c.SubnetLen, back.SubnetLen);
        Assert.Equal(c.IPv6Network, back.IPv6Network);
        Assert.Equal(c.EnableNFTables, back.EnableNFTables);
        Assert.Equal(c.BackendType, back.BackendType);
        Assert.Equal(4096, back.Backend!.Value.GetProperty("VNI").GetInt32());

        var defaulted = NetworkConfig.Parse("""{"Network":"10.1.0.0/16"}""");
        var explicitJson = defaulted.ToJson();
        Assert.Contains("\"Backend\": {", explicitJson, StringComparison.Ordinal);
        Assert.False(NetworkConfig.Parse(explicitJson).BackendDefaulted);
        Assert.Equal(BackendType.Vxlan, NetworkConfig.Parse(explicitJson).BackendType);
    }
}
