using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Flannel.Udp.Tests;

public sealed class NetConfTests
{
    private static JsonElement Json(string s) => JsonDocument.Parse(s).RootElement.Clone();

    [Fact]
    public void Port_defaults_to_8285() => Assert.Equal(8285, UdpNetConf.Parse(Json("""{"Type":"udp"}""")).Port);

    [Fact]
    public void No_backend_object_means_defaults() => Assert.Equal(8285, UdpNetConf.Parse(null).Port);

    [Theory]
    [InlineData("""{"Type":"udp","Port":9000}""")]
    [InlineData("""{"type":"UDP","port":9000}""")]
    [InlineData("""{"PORT":9000}""")]
    public void Port_is_read_case_insensitively(string json) => Assert.Equal(9000, UdpNetConf.Parse(Json(json)).Port);

    [Theory]
    [InlineData("""{"Port":"8285"}""", "8285")]
    [InlineData("""{"Port":0}""", "0")]
    [InlineData("""{"Port":70000}""", "70000")]
    [InlineData("""{"Port":1.5}""", "1.5")]
    [InlineData("""{"Port":null}""", "null")]
    public void Ill_typed_port_is_a_clear_error(string json, string value)
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => UdpNetConf.Parse(Json(json)));
        Assert.Equal("Backend.Port", ex.Field);
        Assert.Equal(value, ex.Value);
        Assert.Contains("Backend.Port", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_port_is_shown_once_quoted_and_named_a_string()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => UdpNetConf.Parse(Json("""{"Type":"udp","Port":"8285"}""")));
        Assert.Equal("Backend.Port: invalid value \"8285\": must be an integer UDP port between 1 and 65535, not a string", ex.Message);
    }

    [Fact]
    public void Unknown_option_is_an_error_naming_it()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => UdpNetConf.Parse(Json("""{"Type":"udp","VNI":1}""")));
        Assert.Equal("Backend.VNI", ex.Field);
        Assert.Contains("not an option of the udp backend", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Backend_that_is_not_an_object_is_an_error() =>
        Assert.Equal("Backend", Assert.Throws<FlannelConfigurationException>(() => UdpNetConf.Parse(Json("[1]"))).Field);

    [Fact]
    public void AddUdpBackend_registers_one_udp_factory()
    {
        var services = new ServiceCollection();
        services.AddFlannel().AddUdpBackend().AddUdpBackend();
        using var sp = services.BuildServiceProvider();
        var f = Assert.Single(sp.GetServices<IBackendFactory>());
        Assert.Equal(BackendType.Udp, f.Type);
    }
}
