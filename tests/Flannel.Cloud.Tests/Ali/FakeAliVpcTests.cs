using System.Net;
using Flannel.Cloud.Ali;
using Flannel.Cloud.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Flannel.Cloud.Tests.Ali;

/// <summary>The fake must refuse what Alibaba refuses, or the backend tests would prove little.</summary>
public sealed class FakeAliVpcTests
{
    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + shift;
    }

    private static AliVpcClient Client(LoopbackServer server, HttpClient http, string secret, TimeProvider? time = null, Func<string>? nonce = null) =>
        new(http, server.BaseUri, new AliCredentials("id-1", secret, "test"), "cn-hangzhou", time ?? TimeProvider.System, NullLogger.Instance, nonce);

    [Fact]
    public async Task Reused_nonce_stale_timestamp_and_bad_signature_are_refused()
    {
        var fake = new FakeAliVpc("id-1", "secret-1");
        fake.Tables.Add(new FakeAliTable { Id = "vtb-1" });
        await using var server = LoopbackServer.Start(fake.Handle);
        using var http = new HttpClient();
        var ct = TestContext.Current.CancellationToken;

        var fixedNonce = Client(server, http, "secret-1", nonce: () => "same-nonce");
        Assert.Single(await fixedNonce.DescribeRouteTableListAsync("vpc-1", ct));
        var reused = await Assert.ThrowsAsync<AliApiException>(async () => await fixedNonce.DescribeRouteTableListAsync("vpc-1", ct));
        Assert.Equal("SignatureNonceUsed", reused.Code);

        var stale = await Assert.ThrowsAsync<AliApiException>(async () => await Client(server, http, "secret-1", new ShiftedTime(TimeSpan.FromHours(-1))).DescribeRouteTableListAsync("vpc-1", ct));
        Assert.Equal("InvalidTimeStamp.Expired", stale.Code);

        var forged = await Assert.ThrowsAsync<AliApiException>(async () => await Client(server, http, "secret-2").DescribeRouteTableListAsync("vpc-1", ct));
        Assert.Equal("SignatureDoesNotMatch", forged.Code);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("server string to sign is:GET&%2F&AccessKeyId%3Did-1", forged.ApiMessage, StringComparison.Ordinal);
    }
}
