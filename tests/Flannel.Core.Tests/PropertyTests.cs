using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Text;
using System.Text.Json;
using CsCheck;
using Flannel.Internal;
using Xunit;

namespace Flannel.Core.Tests;

public class PropertyTests
{
    private static readonly Gen<IPNetwork> GenV4Network =
        Gen.Select(Gen.UInt, Gen.Int[0, 32], (a, len) => IPText.Normalize(IPText.FromUInt128(a, AddressFamily.InterNetwork), len));

    private static readonly Gen<IPNetwork> GenV6Network =
        Gen.Select(Gen.ULong, Gen.ULong, Gen.Int[0, 128], Gen.Int[0, 3], (hi, lo, len, shape) =>
        {
            // Mix dense addresses with sparse ones (long zero runs exercise "::" compression).
            var value = shape switch
            {
                0 => ((UInt128)hi << 64) | lo,
                1 => (UInt128)hi << 64,
                2 => (UInt128)(lo & 0xffff),
                _ => ((UInt128)(hi & 0xffff0000ffff0000) << 64) | (lo & 0x0000ffff00000000),
            };
            var net = IPText.Normalize(IPText.FromUInt128(value, AddressFamily.InterNetworkV6), len);
            return net;
        }).Where(n => !n.BaseAddress.IsIPv4MappedToIPv6);

    private static readonly Gen<IPAddress> GenV4Address = Gen.UInt.Where(a => a != 0).Select(a => IPText.FromUInt128(a, AddressFamily.InterNetwork));

    private static readonly Gen<IPAddress> GenV6Address = GenV6Network.Select(n => n.BaseAddress);

    [Fact]
    public void SubnetKeysRoundTrip()
    {
        Gen.Select(GenV4Network, GenV6Network.Nullable()).Sample((v4, v6) =>
        {
            var key = new SubnetKey(v4, v6);
            var text = key.ToString();
            var parsed = SubnetKey.Parse(text);
            Assert.Equal(key, parsed);
            Assert.Equal(text, parsed.ToString());
            Assert.Equal(key, SubnetKey.Parse("/coreos.com/network/subnets/" + text));
        }, iter: 5000);
    }

    [Fact]
    public void IPv6TextMatchesTheRuntimeExceptForEmbeddedIPv4()
    {
        GenV6Address.Sample(a =>
        {
            var text = IPText.Format(a);
            Assert.True(IPText.TryParseIPv6(text, out var back));
            Assert.Equal(a, back);
            if (!text.Contains('.', StringComparison.Ordinal) && !a.ToString().Contains('.', StringComparison.Ordinal))
            {
                Assert.Equal(a.ToString(), text);
            }
        }, iter: 5000);
    }

    private static readonly Gen<string> GenBackendType =
        Gen.OneOf(Gen.Const("vxlan"), Gen.Const("host-gw"), Gen.String[Gen.Char["a-z<>&\"\\\n\u00e9\u2028"], 1, 12]);

    private static readonly Gen<JsonElement?> GenBackendData =
        Gen.Select(Gen.Int[0, 1 << 24], Gen.Byte.Array[6], Gen.String[Gen.Char["a-z<>& \u00e9"], 0, 10], Gen.Int[0, 3], (vni, mac, extra, shape) =>
        {
            var macText = string.Join(':', mac.Select(b => b.ToString("x2")));
            var json = shape switch
            {
                0 => null,
                1 => $$"""{"VNI":{{vni}},"VtepMAC":"{{macText}}"}""",
                2 => $$"""{ "VNI" : {{vni}} , "Extra" : {{JsonSerializer.Serialize(extra, CoreTestJson.Default.String)}} , "List": [1, 2.5, true, null] }""",
                _ => "null",
            };
            if (json is null)
            {
                return (JsonElement?)null;
            }

            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        });

    private static readonly Gen<LeaseAttributes> GenAttributes =
        Gen.Select(GenV4Address.Null(), GenV6Address.Null(), GenBackendType.Null(), GenBackendData, GenBackendData,
            (ip, ip6, type, data, data6) => new LeaseAttributes { PublicIP = ip, PublicIPv6 = ip6, BackendType = type, BackendData = data, BackendV6Data = data6 });

    [Fact]
    public void LeaseJsonRoundTrips()
    {
        GenAttributes.Sample(a =>
        {
            var json = a.ToJson();
            var parsed = LeaseAttributes.Parse(Encoding.UTF8.GetBytes(json));
            Assert.Equal(a, parsed);
            Assert.Equal(json, parsed.ToJson());
            Assert.DoesNotContain('\n', json);
            Assert.StartsWith("{\"PublicIP\":", json, StringComparison.Ordinal);
        }, iter: 3000);
    }

    [Fact]
    public void SubnetEnvRoundTrips()
    {
        Gen.Select(GenV4Network.Where(n => n.PrefixLength is > 0 and < 31), GenV6Network.Where(n => n.PrefixLength is > 0 and < 127).Nullable(), Gen.Int[68, 65535], Gen.Bool)
            .Sample((sn, sn6, mtu, masq) =>
            {
                var env = new SubnetEnvironment
                {
                    Network = IPText.Normalize(sn.BaseAddress, Math.Max(1, sn.PrefixLength - 4)),
                    Subnet = sn,
                    IPv6Network = sn6 is { } s6 ? IPText.Normalize(s6.BaseAddress, Math.Max(1, s6.PrefixLength - 8)) : null,
                    IPv6Subnet = sn6,
                    Mtu = mtu,
                    IPMasq = masq,
                };
                var text = env.Format();
                Assert.Equal(env, SubnetEnvironment.Parse(text));
                Assert.Equal(text, SubnetEnvironment.Parse(text).Format());
            }, iter: 3000);
    }

    [Fact]
    public void ValidatedConfigsAreConsistent()
    {
        Gen.Select(GenV4Network, Gen.Int[0, 32], Gen.Int[0, 3], Gen.UInt, Gen.UInt).Sample((network, subnetLen, mode, minRaw, maxRaw) =>
        {
            var config = new NetworkConfig
            {
                Network = network,
                SubnetLen = mode == 0 ? 0 : subnetLen,
                SubnetMin = mode == 2 ? IPText.FromUInt128(minRaw, AddressFamily.InterNetwork) : null,
                SubnetMax = mode == 3 ? IPText.FromUInt128(maxRaw, AddressFamily.InterNetwork) : null,
            };
            NetworkConfig valid;
            try
            {
                valid = config.Validate();
            }
            catch (FlannelConfigurationException ex)
            {
                Assert.NotNull(ex.Field);
                return;
            }

            var len = valid.SubnetLen;
            Assert.InRange(len, network.PrefixLength + 2, 30);
            var min = IPText.ToUInt128(valid.SubnetMin!);
            var max = IPText.ToUInt128(valid.SubnetMax!);
            var mask = IPText.Mask(len, 32);
            Assert.True(min <= max);
            Assert.Equal(min, min & mask);
            Assert.Equal(max, max & mask);
            Assert.True(network.Contains(valid.SubnetMin!) && network.Contains(valid.SubnetMax!));
            Assert.Equal(valid, valid.Validate());
            Assert.Equal(valid, NetworkConfig.Parse(valid.ToJson()).Validate() with { BackendDefaulted = valid.BackendDefaulted, Backend = valid.Backend });
        }, iter: 5000);
    }

    [Fact]
    public void IPv6ValidationUses128BitArithmetic()
    {
        GenV6Network.Where(n => n.PrefixLength is > 0 and <= 124).Sample(network =>
        {
            var valid = new NetworkConfig { EnableIPv4 = false, EnableIPv6 = true, IPv6Network = network }.Validate();
            var len = valid.IPv6SubnetLen;
            Assert.Equal(network.PrefixLength <= 62 ? 64 : network.PrefixLength + 2, len);
            var size = UInt128.One << (128 - len);
            var start = IPText.ToUInt128(network.BaseAddress);
            Assert.Equal(start + size, IPText.ToUInt128(valid.IPv6SubnetMin!));
            Assert.Equal(start + (UInt128.One << (128 - network.PrefixLength)) - size, IPText.ToUInt128(valid.IPv6SubnetMax!));
        }, iter: 3000);
    }

    [Fact]
    public void FreeCandidatesAreAlignedInRangeDisjointAndTheLowest()
    {
        Gen.Select(Gen.Int[20, 28], Gen.Int[2, 4], Gen.Int[0, 200].Array[0, 60], Gen.Int[1, 120]).Sample((prefix, extra, takenRaw, limit) =>
        {
            var subnetLen = Math.Min(30, prefix + extra);
            var network = new IPNetwork(IPAddress.Parse("10.64.0.0"), prefix);
            var config = new NetworkConfig { Network = network, SubnetLen = subnetLen }.Validate();
            var size = 1u << (32 - subnetLen);
            var baseValue = (uint)IPText.ToUInt128(network.BaseAddress);
            var taken = takenRaw
                .Select(t => IPText.Normalize(IPText.FromUInt128(baseValue + ((uint)t * size), AddressFamily.InterNetwork), t % 2 == 0 ? subnetLen : Math.Max(prefix, Math.Min(30, t % 7 + subnetLen - 3))))
                .ToList();
            var free = SubnetAllocator.FreeCandidates(subnetLen, config.SubnetMin!, config.SubnetMax!, taken, limit);

            // Brute force: every aligned subnet in range that overlaps nothing, lowest first.
            var expected = new List<IPNetwork>();
            for (var v = (uint)IPText.ToUInt128(config.SubnetMin!); v <= (uint)IPText.ToUInt128(config.SubnetMax!) && expected.Count < limit; v += size)
            {
                var candidate = new IPNetwork(IPText.FromUInt128(v, AddressFamily.InterNetwork), subnetLen);
                if (!taken.Exists(t => IPText.Overlaps(t, candidate)))
                {
                    expected.Add(candidate);
                }
            }

            Assert.Equal(expected, free);
            foreach (var f in free)
            {
                Assert.True(SubnetAllocator.InRange(f, subnetLen, config.SubnetMin!, config.SubnetMax!));
            }
        }, iter: 2000);
    }

    [Fact]
    public void AllocationsNeverOverlapAndStayInRange()
    {
        Gen.Select(Gen.Int[22, 27], Gen.Int[0, 2], Gen.Int[1, 40], Gen.Int).Sample((prefix, extra, nodes, seed) =>
        {
            var config = new NetworkConfig { Network = new IPNetwork(IPAddress.Parse("10.128.0.0"), prefix), SubnetLen = Math.Min(30, prefix + 2 + extra) }.Validate();
            using var registry = new InMemoryLeaseRegistry(config);
            var capacity = (int)((IPText.ToUInt128(config.SubnetMax!) - IPText.ToUInt128(config.SubnetMin!)) >> (32 - config.SubnetLen)) + 1;
            var leases = new List<Lease>();
            for (var i = 0; i < nodes; i++)
            {
                var manager = new LeaseManager(registry, new LeaseManagerOptions { RandomSeed = seed + i });
                var request = new LeaseRequest(new LeaseAttributes { PublicIP = new IPAddress([198, 18, (byte)(i / 250), (byte)(1 + (i % 250))]) });
                if (i >= capacity)
                {
                    Assert.Throws<SubnetExhaustedException>(() => manager.AcquireLeaseAsync(request, TestContext.Current.CancellationToken).AsTask().GetAwaiter().GetResult());
                    continue;
                }

                leases.Add(manager.AcquireLeaseAsync(request, TestContext.Current.CancellationToken).AsTask().GetAwaiter().GetResult());
            }

            for (var i = 0; i < leases.Count; i++)
            {
                var s = leases[i].Subnet!.Value;
                Assert.True(SubnetAllocator.InRange(s, config.SubnetLen, config.SubnetMin!, config.SubnetMax!));
                for (var j = i + 1; j < leases.Count; j++)
                {
                    Assert.False(IPText.Overlaps(s, leases[j].Subnet!.Value), $"{s} overlaps {leases[j].Subnet}");
                }
            }
        }, iter: 300);
    }

    private static readonly string[] ConfigSeeds =
    [
        """{"Network": "10.244.0.0/16", "EnableNFTables": false, "Backend": {"Type": "vxlan"}}""",
        """{"Network":"10.0.0.0/16","SubnetLen":20,"SubnetMin":"10.0.32.0","SubnetMax":"10.0.64.0","EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":64,"Backend":{"Type":"host-gw"}}""",
    ];

    private static readonly string[] LeaseSeeds =
    [
        """{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""",
        """{"PublicIP":"10.0.0.7","PublicIPv6":"fc00::7","BackendType":"host-gw"}""",
    ];

    private static Gen<string> Mutations(string[] seeds, string alphabet) =>
        Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Select(Gen.Int[0, 3], Gen.Int[0, 400], Gen.Char[alphabet]).Array[1, 6], (s, edits) =>
        {
            var sb = new StringBuilder(seeds[s]);
            foreach (var (op, pos, c) in edits)
            {
                var p = sb.Length == 0 ? 0 : pos % sb.Length;
                switch (op)
                {
                    case 0: sb.Insert(p, c); break;
                    case 1 when sb.Length > 0: sb.Remove(p, 1); break;
                    case 2 when sb.Length > 0: sb[p] = c; break;
                    default: sb.Insert(p, c).Insert(p, c); break;
                }
            }

            return sb.ToString();
        });

    [Fact]
    public void MalformedConfigGivesOnlyConfigurationErrors()
    {
        var random = Gen.String[Gen.Char, 0, 60];
        var mutated = Mutations(ConfigSeeds, "{}[]\":,.0123456789/-aefx: nulltrue\\");
        Gen.OneOf(random, mutated).Sample(text =>
        {
            try
            {
                NetworkConfig.Parse(text).Validate().ToJson();
            }
            catch (FlannelConfigurationException ex)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
            }
        }, iter: 20000);

        Gen.Byte.Array[0, 80].Sample(bytes =>
        {
            try
            {
                NetworkConfig.Parse(bytes).Validate();
            }
            catch (FlannelConfigurationException)
            {
            }
        }, iter: 5000);
    }

    [Fact]
    public void MalformedLeaseValuesGiveOnlyLeaseFormatErrors()
    {
        var mutated = Mutations(LeaseSeeds, "{}[]\":,.0123456789abcdef: null\\");
        Gen.OneOf(Gen.String[Gen.Char, 0, 60], mutated).Sample(text =>
        {
            try
            {
                var a = LeaseAttributes.Parse(text);
                Assert.Equal(a, LeaseAttributes.Parse(a.ToJson()));
            }
            catch (LeaseFormatException ex)
            {
                Assert.StartsWith("lease value", ex.Message, StringComparison.Ordinal);
            }
        }, iter: 20000);

        Gen.Byte.Array[0, 80].Sample(bytes =>
        {
            try
            {
                LeaseAttributes.Parse(bytes);
            }
            catch (LeaseFormatException)
            {
            }
        }, iter: 5000);
    }

    [Fact]
    public void MalformedSubnetKeysGiveOnlyLeaseFormatErrors()
    {
        var seeds = new[] { "10.5.52.0-24", "10.5.52.0-24&fc00:0:0:34::-64" };
        Gen.OneOf(Gen.String[Gen.Char, 0, 40], Mutations(seeds, "0123456789abcdef.:-&/AF")).Sample(text =>
        {
            if (SubnetKey.TryParse(text, out var key))
            {
                Assert.Equal(text[(text.LastIndexOf('/') + 1)..], key.ToString());
                return;
            }

            var ex = Assert.Throws<LeaseFormatException>(() => SubnetKey.Parse(text));
            Assert.StartsWith("not a subnet key", ex.Message, StringComparison.Ordinal);
        }, iter: 20000);
    }

    [Fact]
    public void MalformedSubnetEnvGivesOnlyConfigurationErrors()
    {
        var seeds = new[] { "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.5.1/24\nFLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n" };
        Gen.OneOf(Gen.String[Gen.Char, 0, 60], Mutations(seeds, "=\n#\"' 0123456789./:abcdefx,")).Sample(text =>
        {
            try
            {
                var env = SubnetEnvironment.Parse(text);
                _ = env.Format();
            }
            catch (FlannelConfigurationException ex)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
            }
        }, iter: 20000);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class CoreTestJson : System.Text.Json.Serialization.JsonSerializerContext;
