using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Flanneld.Labs;

/// <summary>The outcome of pinging one address: how many echoes were sent and answered, and the RTTs.</summary>
internal sealed record PingResult(string From, string To, IPAddress Destination, int Sent, int Received, double AverageRttMs, double MaxRttMs)
{
    public double LossPercent => Sent == 0 ? 100 : 100.0 * (Sent - Received) / Sent;
}

/// <summary>
/// ICMP echo from inside a pod namespace: a raw ICMP socket created on a thread that entered the namespace (the
/// socket stays bound to that namespace), then used from the caller's thread with bounded waits.
/// </summary>
internal sealed class LabPinger : IDisposable
{
    private readonly Socket _socket;
    private readonly ushort _id;
    private ushort _sequence;

    private LabPinger(Socket socket)
    {
        _socket = socket;
        _id = (ushort)Random.Shared.Next(1, ushort.MaxValue);
    }

    public static LabPinger Open(string namespacePath) =>
        new(LabNative.RunInNamespace(namespacePath, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp), TimeSpan.FromSeconds(10)));

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
        request[0] = 8; // echo request
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), _id);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), seq);
        for (var i = 8; i < request.Length; i++)
        {
            request[i] = (byte)i;
        }

        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), Checksum(request));
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

            EndPoint sender = new IPEndPoint(IPAddress.Any, 0);
            int n;
            try
            {
                n = _socket.ReceiveFrom(buffer, ref sender);
            }
            catch (SocketException)
            {
                continue;
            }

            // A raw IPv4 ICMP socket delivers the IP header too.
            if (n < 20)
            {
                continue;
            }

            var ihl = (buffer[0] & 0x0f) * 4;
            if (n < ihl + 8)
            {
                continue;
            }

            var icmp = buffer.AsSpan(ihl, n - ihl);
            if (icmp[0] == 0 &&
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
