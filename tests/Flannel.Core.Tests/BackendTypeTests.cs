using Xunit;

namespace Flannel.Core.Tests;

public class BackendTypeTests
{
    [Theory]
    [InlineData("VXLAN", "vxlan")]
    [InlineData(" host-gw ", "host-gw")]
    [InlineData("Udp", "udp")]
    public void NormalisesToLowerCase(string input, string expected)
    {
        Assert.Equal(expected, new BackendType(input).Value);
        Assert.Equal(new BackendType(expected), new BackendType(input));
    }

    [Fact]
    public void DefaultIsEmpty()
    {
        Assert.True(default(BackendType).IsEmpty);
        Assert.Equal(string.Empty, default(BackendType).ToString());
    }

    [Fact]
    public void ConfigurationExceptionNamesFieldValueAndRule()
    {
        var ex = new FlannelConfigurationException("SubnetLen", "31", "must be at most 30");
        Assert.Equal("SubnetLen", ex.Field);
        Assert.Equal("31", ex.Value);
        Assert.Contains("SubnetLen", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"31\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("must be at most 30", ex.Message, StringComparison.Ordinal);
    }
}
