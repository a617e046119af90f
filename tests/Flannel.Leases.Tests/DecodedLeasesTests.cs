using Etcdserverpb;
using Flannel.Etcd;
using Google.Protobuf;
using Xunit;

namespace Flannel.Leases.Tests;

/// <summary>The rules of the etcd registry's decode cache, on its own (the etcd tests cover it end to end).</summary>
public sealed class DecodedLeasesTests
{
    private static readonly ByteString Value1 = ByteString.CopyFrom(EtcdSharedDecodingTests.Value("198.18.0.1", "c6:d2:32:6f:8f:01"));

    [Fact]
    public void A_hit_needs_the_same_revision_and_the_same_value_bytes()
    {
        var cache = new DecodedLeases();
        var g = cache.Observe(Header(1, 10), floor: 0).Generation;
        var lease = Lease(1, revision: 10);
        Assert.Same(lease, cache.Share(Key(1), Value1, lease, g, listedAt: 10));

        Assert.Same(lease, cache.Find(Key(1), 10, ByteString.CopyFrom(Value1.ToByteArray()), listedAt: 0)); // equal bytes, another buffer
        Assert.Null(cache.Find(Key(1), 11, Value1, 0));
        Assert.Null(cache.Find(Key(1), 10, ByteString.CopyFromUtf8("""{"PublicIP":"198.18.0.9","PublicIPv6":null}"""), 0));
        Assert.Null(cache.Find(Key(2), 10, Value1, 0));
    }

    [Fact]
    public void Concurrent_decoders_of_one_version_converge_on_the_first_lease_and_an_older_version_never_replaces_a_newer()
    {
        var cache = new DecodedLeases();
        var g = cache.Observe(Header(1, 20), 0).Generation;
        var first = Lease(1, 20);
        Assert.Same(first, cache.Share(Key(1), Value1, first, g, 0));
        Assert.Same(first, cache.Share(Key(1), Value1, Lease(1, 20), g, 0));

        var older = Lease(1, 15);
        Assert.Same(older, cache.Share(Key(1), Value1, older, g, 0)); // handed out, not kept
        Assert.Same(first, cache.Find(Key(1), 20, Value1, 0));

        var otherExpiry = Lease(1, 20) with { Expiration = DateTimeOffset.UnixEpoch.AddDays(1) };
        Assert.Same(otherExpiry, cache.Share(Key(1), Value1, otherExpiry, g, 0)); // the same version with a new expiration replaces it
        Assert.Same(otherExpiry, cache.Find(Key(1), 20, Value1, 0));
    }

    [Fact]
    public void Another_cluster_id_or_a_revision_below_one_already_seen_starts_a_new_generation()
    {
        var cache = new DecodedLeases();
        var g1 = cache.Observe(Header(1, 100), 0).Generation;
        cache.Share(Key(1), Value1, Lease(1, 90), g1, 100);

        var same = cache.Observe(Header(1, 120), floor: 100);
        Assert.False(same.Reset);
        Assert.Equal(g1, same.Generation);
        Assert.Equal(120, cache.Revision);
        Assert.False(cache.Observe(Header(1, 110), floor: 100).Reset); // behind the highest seen, but not behind what was seen before the request

        var back = cache.Observe(Header(1, 5), floor: 120);
        Assert.True(back.Reset);
        Assert.Equal(1, back.Dropped);
        Assert.Equal(0, cache.Count);
        Assert.Equal(5, cache.Revision);

        cache.Share(Key(1), Value1, Lease(1, 4), back.Generation, 5);
        var other = cache.Observe(Header(2, 500), floor: 5);
        Assert.True(other.Reset);
        Assert.Equal(1UL, other.PreviousClusterId);
        Assert.Equal(0, cache.Count);

        // A response that began before the change is served but not kept.
        var stale = Lease(1, 4);
        Assert.Same(stale, cache.Share(Key(1), Value1, stale, back.Generation, 0));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Deletions_and_listings_drop_keys_and_the_bound_starts_over()
    {
        var cache = new DecodedLeases();
        var g = cache.Observe(Header(1, 50), 0).Generation;
        for (var i = 1; i <= 3; i++)
        {
            cache.Share(Key(i), Value1, Lease(i, 10 + i), g, listedAt: 50);
        }

        cache.Remove(Key(1), deleteRevision: 11); // not after the cached version: a different, older deletion
        Assert.Equal(3, cache.Count);
        cache.Remove(Key(1), deleteRevision: 60);
        Assert.Equal(2, cache.Count);

        // A listing at 70 that found key 2 only: key 3 (written at 13, not listed) is gone; key 4 written at 75 stays.
        Assert.NotNull(cache.Find(Key(2), 12, Value1, listedAt: 70));
        cache.Share(Key(4), Value1, Lease(4, 75), g, listedAt: 0);
        cache.Sweep(70, g);
        Assert.NotNull(cache.Find(Key(2), 12, Value1, 0));
        Assert.Null(cache.Find(Key(3), 13, Value1, 0));
        Assert.NotNull(cache.Find(Key(4), 75, Value1, 0));

        cache.Expect(10); // a listing of 10 keys: the bound is 1,024
        for (var i = 10; i < 1034; i++)
        {
            cache.Share(Key(i), Value1, Lease(i, 100 + i), g, 0);
        }

        Assert.True(cache.Count <= 1024, $"{cache.Count} entries");
    }

    private static ResponseHeader Header(ulong clusterId, long revision) => new() { ClusterId = clusterId, Revision = revision };

    private static ByteString Key(int i) => ByteString.CopyFromUtf8($"/coreos.com/network/subnets/10.{i / 256}.{i % 256}.0-24");

    private static Lease Lease(int i, long revision) => new()
    {
        Subnet = L.Net($"10.{i / 256}.{i % 256}.0/24"),
        Attributes = new LeaseAttributes { PublicIP = System.Net.IPAddress.Parse("198.18.0.1") },
        Revision = revision,
    };
}
