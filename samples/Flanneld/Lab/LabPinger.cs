using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Flanneld.Labs;

/// <summary>The outcome of pinging one address: how many echoes were sent and answered, and the RTTs.</summary>
internal sealed record PingResult(string From, string To, IPAddress Destination, int Sent, int Received, double AverageRttMs, double MaxRttMs)
{
    public double LossPercent => Sent == 0 ? 100 : 100.0 * (Sent - Received) / Sent;

    public bool IsIPv6 => Destination.AddressFamily == AddressFamily.InterNetworkV6;
}

/// <summary>
/// ICMP echo from inside a pod namespace: a raw ICMP (IPv4) or ICMPv6 socket created on a thread that entered the
/// namespace (the socket stays bound to that namespace), then used from the caller's thread with bounded waits.
/// IPv4: echo request type 8, reply 0, our checksum, replies arrive with their IP header. IPv6 (RFC 4443): request
/// 128, reply 129, the kernel fills in the checksum (it covers a pseudo-header only the kernel knows, RFC 3542),
/// replies arrive without the IPv6 header.
/// </summary>
internal sealed class LabPinger : IDisposable
{
    private const byte EchoRequestV4 = 8;
    private const byte EchoReplyV4 = 0;
    private const byte EchoRequestV6 = 128;
    private const byte EchoReplyV6 = 129;

    private readonly Socket _socket;
    private readonly bool _v6;
    private readonly ushort _id;
    private ushort _sequence;

    private LabPinger(Socket socket, bool v6)
    {
        _socket = socket;
        _v6 = v6;
        _id = (ushort)Random.Shared.Next(1, ushort.MaxValue);
    }

    /// <summary>A pinger for <paramref name="family"/> (IPv4 or IPv6) inside the namespace at <paramref name="namespacePath"/>.</summary>
    public static LabPinger Open(string namespacePath, AddressFamily family = AddressFamily.InterNetwork)
    {
        var v6 = family switch
        {
            AddressFamily.InterNetwork => false,
            AddressFamily.InterNetworkV6 => true,
            _ => throw new ArgumentException($"the lab pings IPv4 or IPv6, not {family}", nameof(family)),
        };
        return new(LabNative.RunInNamespace(namespacePath, () => v6 ? new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.IcmpV6) : new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp), TimeSpan.FromSeconds(10)), v6);
    }

    /// <summary>Pings until the first reply (ARP and FDB warm-up), at most <paramref name="within"/>.</summary>
    public bool WaitForReply(IPAddress destination, TimeSpan within)
    {
        var sw = Stopwatch.StartNew();
        do
        {
            if (PingOnce(destination, TimeSpan.FromMilliseconds(250)) is not null)
            {
                return true;
            }
        }
        while (sw.Elapsed < within);
        return false;
    }

    /// <summary>Sends <paramref name="count"/> echoes, one every <paramref name="interval"/>, each waiting at most <paramref name="timeout"/>.</summary>
    public PingResult Measure(string from, string to, IPAddress destination, int count, TimeSpan interval, TimeSpan timeout)
    {
        var rtts = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            if (PingOnce(destination, timeout) is { } rtt)
            {
                rtts.Add(rtt.TotalMilliseconds);
            }

            var left = interval - Stopwatch.GetElapsedTime(started);
            if (i + 1 < count && left > TimeSpan.Zero)
            {
                Thread.Sleep(left);
            }
        }

        return new PingResult(from, to, destination, count, rtts.Count, rtts.Count == 0 ? 0 : rtts.Average(), rtts.Count == 0 ? 0 : rtts.Max());
    }

    /// <summary>One echo request; the RTT, or null when no matching reply arrived within <paramref name="timeout"/>.</summary>
    public TimeSpan? PingOnce(IPAddress destination, TimeSpan timeout)
    {
        var seq = ++_sequence;
        var request = new byte[56];
        request[0] = _v6 ? EchoRequestV6 : EchoRequestV4;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), _id);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), seq);
        for (var i = 8; i < request.Length; i++)
        {
            request[i] = (byte)i;
        }

        if (!_v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), Checksum(request));
        }

        var sw = Stopwatch.StartNew();
        try
        {
            _socket.SendTo(request, new IPEndPoint(destination, 0));
        }
        catch (SocketException)
        {
            // No route or neighbour yet: the same as a lost packet, but do not spin.
            Thread.Sleep(Math.Min(100, (int)timeout.TotalMilliseconds));
            return null;
        }

        var buffer = new byte[2048];
        while (sw.Elapsed < timeout)
        {
            var left = timeout - sw.Elapsed;
            if (left <= TimeSpan.Zero || !_socket.Poll(left, SelectMode.SelectRead))
            {
                return null;
            }

            EndPoint sender = new IPEndPoint(_v6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            int n;
            try
            {
                n = _socket.ReceiveFrom(buffer, ref sender);
            }
            catch (SocketException)
            {
                continue;
            }

            // A raw IPv4 ICMP socket delivers the IP header too; a raw ICMPv6 socket only the ICMPv6 message (and
            // every other ICMPv6 message as well: neighbour discovery, errors), hence the type/id/sequence match.
            var ihl = 0;
            if (!_v6)
            {
                if (n < 20)
                {
                    continue;
                }

                ihl = (buffer[0] & 0x0f) * 4;
            }

            if (n < ihl + 8)
            {
                continue;
            }

            var icmp = buffer.AsSpan(ihl, n - ihl);
            if (icmp[0] == (_v6 ? EchoReplyV6 : EchoReplyV4) &&
                BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) == _id &&
                BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]) == seq &&
                ((IPEndPoint)sender).Address.Equals(destination))
            {
                return sw.Elapsed;
            }
        }

        return null;
    }

    public void Dispose() => _socket.Dispose();

    private static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if ((data.Length & 1) != 0)
        {
            sum += (uint)(data[^1] << 8);
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
