using System.Net.Sockets;
using System.Text.Json;
using Flannel.Vxlan;
using Xunit;

namespace Flannel.Backends.Tests;

public sealed class VxlanConfigTests
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public void Defaults_match_flannel()
    {
        var c = VxlanConfig.Parse(Json("""{"Type":"vxlan"}"""));
        Assert.Equal(1u, c.Vni);
        Assert.Null(c.Port);
        Assert.False(c.Gbp);
        Assert.False(c.DirectRouting);
        Assert.False(c.Learning);
        Assert.Null(c.Mtu);
        Assert.Equal(c with { IgnoredOptions = [] }, VxlanConfig.Parse(null) with { IgnoredOptions = [] });
    }

    [Fact]
    public void Names_are_case_insensitive_and_every_option_is_read()
    {
        var c = VxlanConfig.Parse(Json("""{"type":"VXLAN","vni":42,"PORT":4789,"gbp":true,"directrouting":true,"Learning":true,"mtu":9000,"MacPrefix":"0E-2A","Name":"vxlan0"}"""));
        Assert.Equal(42u, c.Vni);
        Assert.Equal((ushort)4789, c.Port);
        Assert.True(c.Gbp && c.DirectRouting && c.Learning);
        Assert.Equal(9000, c.Mtu);
        Assert.Equal(["MacPrefix", "Name"], c.IgnoredOptions);
    }

    [Fact]
    public void Port_zero_means_kernel_default()
    {
        Assert.Null(VxlanConfig.Parse(Json("""{"Port":0}""")).Port);
    }

    [Theory]
    [InlineData("""{"VNI":"1"}""", "Backend.VNI")]
    [InlineData("""{"VNI":16777216}""", "Backend.VNI")]
    [InlineData("""{"VNI":-1}""", "Backend.VNI")]
    [InlineData("""{"VNI":1.5}""", "Backend.VNI")]
    [InlineData("""{"Port":70000}""", "Backend.Port")]
    [InlineData("""{"GBP":"yes"}""", "Backend.GBP")]
    [InlineData("""{"DirectRouting":1}""", "Backend.DirectRouting")]
    [InlineData("""{"MTU":"1500"}""", "Backend.MTU")]
    [InlineData("""{"Vnii":1}""", "Backend.Vnii")]
    [InlineData("""{"MacPrefix":5}""", "Backend.MacPrefix")]
    public void Bad_options_name_the_option(string json, string field)
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => VxlanConfig.Parse(Json(json)));
        Assert.Equal(field, ex.Field);
        Assert.StartsWith(field + ":", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"VNI":"one"}""", "Backend.VNI: invalid value \"one\": must be an integer between 0 and 16777215, not a string")]
    [InlineData("""{"MTU":"1400"}""", "Backend.MTU: invalid value \"1400\": must be an integer between 0 and 65535, not a string")]
    [InlineData("""{"VNI":1.5}""", "Backend.VNI: invalid value \"1.5\": must be an integer between 0 and 16777215, not a number with a fraction or exponent")]
    [InlineData("""{"DirectRouting":"yes"}""", "Backend.DirectRouting: invalid value \"yes\": must be true or false, not a string")]
    [InlineData("""{"GBP":null}""", "Backend.GBP: invalid value \"null\": must be true or false, not null")]
    public void Ill_typed_options_show_the_value_once_quoted_and_say_what_it_is(string json, string message)
    {
        // Not invalid value ""one"": a JSON string's quotes are not part of the value.
        var ex = Assert.Throws<FlannelConfigurationException>(() => VxlanConfig.Parse(Json(json)));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Backend_must_be_an_object()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => VxlanConfig.Parse(Json("[1]")));
        Assert.Equal("Backend", ex.Field);
    }

    [Fact]
    public void Mtu_subtracts_50_for_IPv4_and_70_for_IPv6_underlays()
    {
        Assert.Equal(1450, VxlanMtu.DeviceMtu(null, 1500, AddressFamily.InterNetwork));
        Assert.Equal(1430, VxlanMtu.DeviceMtu(null, 1500, AddressFamily.InterNetworkV6));
        Assert.Equal(8950, VxlanMtu.DeviceMtu(9000, 1500, AddressFamily.InterNetwork));
        var ex = Assert.Throws<FlannelConfigurationException>(() => VxlanMtu.DeviceMtu(1300, 1500, AddressFamily.InterNetworkV6));
        Assert.Equal("Backend.MTU", ex.Field);
    }
}
