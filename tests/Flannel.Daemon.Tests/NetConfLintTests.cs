using Flanneld;
using Xunit;

namespace Flannel.Daemon.Tests;

public sealed class NetConfLintTests
{
    [Theory]
    [InlineData("""{"Netwrok": "10.244.0.0/16"}""", "unknown field \"Netwrok\" is ignored (did you mean \"Network\"?)")]
    [InlineData("""{"Network": "10.244.0.0/16", "SubnetLne": 24}""", "unknown field \"SubnetLne\" is ignored (did you mean \"SubnetLen\"?)")]
    [InlineData("""{"Network": "10.244.0.0/16", "BackendType": "vxlan"}""", "unknown field \"BackendType\" is ignored (did you mean \"Backend\": {\"Type\": …}?)")]
    [InlineData("""{"Network": "10.244.0.0/16", "EnableIPv6": true, "IPv6Netwrk": "fd00::/48"}""", "unknown field \"IPv6Netwrk\" is ignored (did you mean \"IPv6Network\"?)")]
    [InlineData("""{"Network": "10.244.0.0/16", "Comment": "prod"}""", "unknown field \"Comment\" is ignored")]
    public void Unknown_fields_are_named_with_the_likely_intent(string json, string expected) =>
        Assert.Equal(expected, NetConfLint.Describe(NetConfLint.UnknownFields(json)));

    [Theory]
    [InlineData("""{"network": "10.244.0.0/16", "BACKEND": {"Type": "vxlan"}, "enablenftables": false}""")] // Go matches names case-insensitively
    [InlineData("""{"Network": "10.244.0.0/16",""")] // not JSON: the parser reports it
    [InlineData("[]")]
    public void Known_fields_in_any_case_and_non_objects_give_nothing(string json) =>
        Assert.Empty(NetConfLint.UnknownFields(json));
}
