using Flannel.Cloud.Ali;
using Xunit;

namespace Flannel.Cloud.Tests.Ali;

/// <summary>Alibaba's published signature example (docs/cloud.md test vectors), checked stage by stage, against both implementations.</summary>
public sealed class AliSignatureTests
{
    private static List<KeyValuePair<string, string>> DescribeRegions(string timestampName) =>
    [
        new("AccessKeyId", "testid"), new("Action", "DescribeRegions"), new("Format", "XML"), new("SignatureMethod", "HMAC-SHA1"),
        new("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"), new("SignatureVersion", "1.0"), new(timestampName, "2016-02-23T12:46:24Z"),
        new("Version", "2014-05-26"),
    ];

    [Fact]
    public void Published_example_with_TimeStamp_reproduces_CT9X()
    {
        var canonical = AliRpcSigner.CanonicalQuery(DescribeRegions("TimeStamp"));
        var sts = AliRpcSigner.StringToSign("GET", canonical);
        Assert.Equal(
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
            sts);
        Assert.Equal("CT9X0VtwR86fNWSnsc6v8YGOjuE=", AliRpcSigner.Sign(sts, "testsecret"));
    }

    [Fact]
    public void Published_example_with_Timestamp_reproduces_OLea()
    {
        var sts = AliRpcSigner.StringToSign("GET", AliRpcSigner.CanonicalQuery(DescribeRegions("Timestamp")));
        Assert.Equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", AliRpcSigner.Sign(sts, "testsecret"));
    }

    [Fact]
    public void Percent_encoding_matches_the_SDK_vector()
    {
        const string input = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!@#$%^&*()";
        const string expected = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%21%40%23%24%25%5E%26%2A%28%29";
        Assert.Equal(expected, AliRpcSigner.PercentEncode(input));
        Assert.Equal(expected, IndependentAliSignature.Encode(input));
        Assert.Equal("%20", AliRpcSigner.PercentEncode(" "));
        Assert.Equal("%E4%B8%AD", AliRpcSigner.PercentEncode("中"));
    }

    [Fact]
    public void Project_CreateRouteEntry_vector_stage_by_stage()
    {
        List<KeyValuePair<string, string>> p =
        [
            new("AccessKeyId", "testid"), new("Action", "CreateRouteEntry"), new("DestinationCidrBlock", "10.24.1.0/24"), new("Format", "JSON"),
            new("NextHopId", "i-bp1a2b3c4d5e6f7g8h9i"), new("NextHopType", "Instance"), new("RegionId", "cn-hangzhou"),
            new("RouteTableId", "vtb-bp145q7glnuzdvzu2xxxx"), new("SignatureMethod", "HMAC-SHA1"), new("SignatureNonce", "9b7a5e0c-0d3f-4c1e-8f2a-1234567890ab"),
            new("SignatureVersion", "1.0"), new("Timestamp", "2024-01-02T03:04:05Z"), new("Version", "2016-04-28"),
        ];

        // shuffled input must not matter: only the canonical order counts
        var canonical = AliRpcSigner.CanonicalQuery(Enumerable.Reverse(p));
        Assert.Contains("DestinationCidrBlock=10.24.1.0%2F24", canonical, StringComparison.Ordinal);
        Assert.Contains("Timestamp=2024-01-02T03%3A04%3A05Z", canonical, StringComparison.Ordinal);
        var sts = AliRpcSigner.StringToSign("GET", canonical);
        Assert.Contains("10.24.1.0%252F24", sts, StringComparison.Ordinal);
        Assert.Equal(sts, IndependentAliSignature.StringToSign("GET", p));
        Assert.Equal("OxpN4684+es/nbyjBYz+6DNBaqU=", AliRpcSigner.Sign(sts, "testsecret"));
        Assert.Equal("OxpN4684+es/nbyjBYz+6DNBaqU=", IndependentAliSignature.Signature(sts, "testsecret"));
    }

    [Fact]
    public void Independent_verifier_reproduces_the_published_examples()
    {
        Assert.Equal("CT9X0VtwR86fNWSnsc6v8YGOjuE=", IndependentAliSignature.Signature(IndependentAliSignature.StringToSign("GET", DescribeRegions("TimeStamp")), "testsecret"));
        Assert.Equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", IndependentAliSignature.Signature(IndependentAliSignature.StringToSign("GET", DescribeRegions("Timestamp")), "testsecret"));
    }

    [Fact]
    public void Ordinal_sort_puts_upper_case_before_lower_case()
    {
        var canonical = AliRpcSigner.CanonicalQuery([new("b", "1"), new("B", "2"), new("a", "3"), new("A", "4")]);
        Assert.Equal("A=4&B=2&a=3&b=1", canonical);
    }
}
