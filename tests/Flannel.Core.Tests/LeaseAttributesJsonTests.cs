using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Flannel.Core.Tests;

public class LeaseAttributesJsonTests
{
    public static TheoryData<string> GoldenValues => new()
    {
        """{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""",
        """{"PublicIP":"10.0.0.7","PublicIPv6":null,"BackendType":"host-gw"}""",
        """{"PublicIP":"10.0.0.7","PublicIPv6":null}""",
        """{"PublicIP":"10.0.0.7","PublicIPv6":"fc00::7","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:45"}}""",
        """{"PublicIP":"10.0.0.7","PublicIPv6":null,"BackendType":"host-gw","BackendData":null}""",
    };

    [Theory]
    [MemberData(nameof(GoldenValues))]
    public void GoldenValuesRoundTripByteForByte(string json)
    {
        var attrs = LeaseAttributes.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(json, attrs.ToJson());
        Assert.Equal(Encoding.UTF8.GetBytes(json), attrs.ToUtf8Json());
    }

    [Fact]
    public void VxlanGoldenFields()
    {
        var a = LeaseAttributes.Parse("""{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""");
        Assert.Equal(IPAddress.Parse("192.168.64.3"), a.PublicIP);
        Assert.Null(a.PublicIPv6);
        Assert.Equal("vxlan", a.BackendType);
        Assert.Equal(1, a.BackendData!.Value.GetProperty("VNI").GetInt32());
        Assert.Null(a.BackendV6Data);
    }

    [Fact]
    public void WritesInFlannelFieldOrderFromCode()
    {
        using var doc = JsonDocument.Parse("""
            {
              "VNI" : 1,
              "VtepMAC": "c6:d2:32:6f:8f:44"
            }
            """);
        var a = new LeaseAttributes
        {
            BackendData = doc.RootElement.Clone(),
            BackendType = "vxlan",
            PublicIP = IPAddress.Parse("192.168.64.3"),
        };
        Assert.Equal("""{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""", a.ToJson());
    }

    [Fact]
    public void RawBackendDataIsCompactedWithGoHtmlEscaping()
    {
        var a = LeaseAttributes.Parse("""{"PublicIP":"10.0.0.1","BackendData":{ "a" : "<x&y>" , "b" : [ 1 , 2 ], "c": "say \"hi\" \u00e9 é" }}""");
        Assert.Equal("""{"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendData":{"a":"\u003cx\u0026y\u003e","b":[1,2],"c":"say \"hi\" \u00e9 é"}}""", a.ToJson());
    }

    [Fact]
    public void BackendTypeIsEscapedLikeGo()
    {
        var a = new LeaseAttributes { PublicIP = IPAddress.Loopback, BackendType = "a\"b<c>\n\u0001" };
        Assert.Equal("""{"PublicIP":"127.0.0.1","PublicIPv6":null,"BackendType":"a\"b\u003cc\u003e\n\u0001"}""", a.ToJson());
    }

    [Fact]
    public void ReadsWithGoRules()
    {
        var a = LeaseAttributes.Parse("""{"publicip":"10.1.1.1","PUBLICIPV6":"FC00::1","backendtype":"host-gw","Unknown":{"x":1}}""");
        Assert.Equal(IPAddress.Parse("10.1.1.1"), a.PublicIP);
        Assert.Equal(IPAddress.Parse("fc00::1"), a.PublicIPv6);
        Assert.Equal("host-gw", a.BackendType);
        Assert.Equal("""{"PublicIP":"10.1.1.1","PublicIPv6":"fc00::1","BackendType":"host-gw"}""", a.ToJson());
    }

    [Fact]
    public void KeysFoldAndRepeatLikeGoEncodingJson()
    {
        // Go folds keys with Unicode simple folding (U+212A KELVIN SIGN is k), decodes escaped keys and values, and
        // lets the last of repeated keys win.
        var a = LeaseAttributes.Parse("""{"PublicIP":"10.9.9.9","publicIP":"10.0.0.\u0031","Bac\u212AendType":"vxlan","\u0042ackendData":{"VNI":1}}""");
        Assert.Equal(IPAddress.Parse("10.0.0.1"), a.PublicIP);
        Assert.Equal("vxlan", a.BackendType);
        Assert.Equal(1, a.BackendData!.Value.GetProperty("VNI").GetInt32());

        // Keys that only look alike are not the field: no match, so the field stays unset.
        var b = LeaseAttributes.Parse("""{"PublicIP ":"10.0.0.2","Publ\u0131cIP":"10.0.0.3","BackendTypes":"x"}""");
        Assert.Null(b.PublicIP);
        Assert.Null(b.BackendType);
    }

    [Theory]
    [InlineData("VtepMAC", true)]
    [InlineData("vtepmac", true)]
    [InlineData("VTEPMAC", true)]
    [InlineData("Vtep\\u004dAC", true)]
    [InlineData("VtepMA", false)]
    [InlineData("VtepMAC\\u0000", false)]
    [InlineData("V\\u00e9pMAC", false)]
    public void GoJsonFieldsMatchKeysAsGoDoes(string key, bool matches)
    {
        using var doc = JsonDocument.Parse($$"""{"{{key}}":1}""");
        var property = doc.RootElement.EnumerateObject().Single();
        Assert.Equal(matches, GoJsonFields.Matches(property, "VtepMAC"u8));
        Assert.Equal(matches, GoJsonFields.TryGetValue(doc.RootElement, "VtepMAC"u8, out var value));
        Assert.Equal(matches ? 1 : 0, matches ? value.GetInt32() : 0);
    }

    [Fact]
    public void GoJsonFieldsFoldTheLongS()
    {
        // U+017F LATIN SMALL LETTER LONG S folds to s in Go, as U+212A KELVIN SIGN folds to k.
        using var doc = JsonDocument.Parse("""{"\u017Fubnet":1,"\u212Aey":2,"s":3}""");
        Assert.True(GoJsonFields.TryGetValue(doc.RootElement, "Subnet"u8, out var subnet));
        Assert.Equal(1, subnet.GetInt32());
        Assert.True(GoJsonFields.TryGetValue(doc.RootElement, "KEY"u8, out var key));
        Assert.Equal(2, key.GetInt32());
        Assert.False(GoJsonFields.TryGetValue(JsonDocument.Parse("[1]").RootElement, "s"u8, out _));
    }

    [Fact]
    public void ZeroPublicIPMeansNone()
    {
        var a = LeaseAttributes.Parse("""{"PublicIP":"0.0.0.0","PublicIPv6":"fc00::9"}""");
        Assert.Null(a.PublicIP);
        Assert.Equal("""{"PublicIP":"0.0.0.0","PublicIPv6":"fc00::9"}""", a.ToJson());
    }

    [Fact]
    public void EqualityComparesBackendDataByValue()
    {
        var a = LeaseAttributes.Parse("""{"PublicIP":"10.0.0.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}""");
        var b = LeaseAttributes.Parse("""{"PublicIP":"10.0.0.1","BackendType":"vxlan","BackendData":{ "VNI": 1, "VtepMAC": "aa:bb:cc:dd:ee:ff" }}""");
        var c = LeaseAttributes.Parse("""{"PublicIP":"10.0.0.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:00"}}""");
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.Equal(new LeaseAttributes { BackendType = "" }, new LeaseAttributes());
    }

    [Theory]
    [InlineData("", "lease value is empty, not JSON")]
    [InlineData("not json", "lease value is not valid JSON at line 1, byte 2: 'not json' is an invalid JSON literal. Expected the literal 'null'.")]
    [InlineData("{", "not valid JSON")]
    [InlineData("[]", "must be a JSON object, not an array")]
    [InlineData("\"x\"", "must be a JSON object")]
    [InlineData("""{"PublicIP":5}""", "PublicIP must be a string")]
    [InlineData("""{"PublicIP":"10.0.0"}""", "PublicIP: \"10.0.0\" is not an IPv4 address")]
    [InlineData("""{"PublicIP":"fc00::1"}""", "is not an IPv4 address")]
    [InlineData("""{"PublicIP":"10.0.0.1","PublicIPv6":"10.0.0.2"}""", "PublicIPv6: \"10.0.0.2\" is not an IPv6 address")]
    [InlineData("""{"PublicIP":"10.0.0.1","BackendType":7}""", "BackendType must be a string")]
    public void MalformedValuesGiveLeaseFormatException(string json, string why)
    {
        var ex = Assert.Throws<LeaseFormatException>(() => LeaseAttributes.Parse(json));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }
}
