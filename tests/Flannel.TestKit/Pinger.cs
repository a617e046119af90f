using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Flannel.TestKit;

/// <summary>
/// ICMP echo (IPv4 and IPv6) sent from inside a network namespace through a raw socket opened in it, so that
/// tests need no ping binary. Every wait is bounded.
/// </summary>
public sealed class Pinger : IDisposable
{
    private readonly Socket? _v4;
    private readonly Socket? _v6;
    private readonly ushort _id;
    private ushort _sequence;

    private Pinger(Socket? v4, Socket? v6)
    {
        _v4 = v4;
        _v6 = v6;
        _id = (ushort)Random.Shared.Next(1, ushort.MaxValue);
    }

    /// <summary>Opens raw ICMP sockets inside the namespace at <paramref name="namespacePath"/>.</summary>
    /// <param name="namespacePath">The namespace path.</param>
    /// <param name="ipv6">Whether to open the ICMPv6 socket as well.</param>
    /// <returns>The pinger.</returns>
    public static Pinger Open(string namespacePath, bool ipv6 = false) => NamespaceThread.Run(namespacePath, () =>
    {
        var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
        Socket? v6 = null;
        try
        {
            if (ipv6)
            {
                v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.IcmpV6);
            }
        }
        catch
        {
            v4.Dispose();
            throw;
        }

        return new Pinger(v4, v6);
    });

    /// <summary>Sends one echo request and waits up to <paramref name="timeout"/> for the matching reply.</summary>
    /// <param name="destination">The address to ping.</param>
    /// <param name="timeout">How long to wait for the reply.</param>
    /// <returns>True when the reply came back in time.</returns>
    public bool PingOnce(IPAddress destination, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var v6 = destination.AddressFamily == AddressFamily.InterNetworkV6;
        var socket = (v6 ? _v6 : _v4) ?? throw new InvalidOperationException("this pinger was opened without IPv6");
        var seq = ++_sequence;
        var request = new byte[64];
        request[0] = v6 ? (byte)128 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), _id);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), seq);
        for (var i = 8; i < request.Length; i++)
        {
            request[i] = (byte)i;
        }

        if (!v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), Checksum(request));
        }

        try
        {
            socket.SendTo(request, new IPEndPoint(destination, 0));
        }
        catch (SocketException)
        {
            // No route yet (ENETUNREACH) or a neighbour failure: the same as a lost packet.
            Thread.Sleep(Math.Min(100, (int)timeout.TotalMilliseconds));
            return false;
        }

        var buffer = new byte[1500];
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            var left = timeout - sw.Elapsed;
            if (!socket.Poll(left < TimeSpan.Zero ? TimeSpan.Zero : left, SelectMode.SelectRead))
            {
                return false;
            }

            EndPoint from = new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            int n;
            try
            {
                n = socket.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException)
            {
                continue;
            }

            var icmp = buffer.AsSpan(0, n);
            if (!v6)
            {
                if (n < 20)
                {
                    continue;
                }

                var ihl = (icmp[0] & 0x0f) * 4;
                if (n < ihl + 8)
                {
                    continue;
                }

                icmp = icmp[ihl..];
            }

            if (icmp.Length < 8 || icmp[0] != (v6 ? 129 : 0))
            {
                continue;
            }

            if (BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) == _id &&
                BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]) == seq &&
                ((IPEndPoint)from).Address.Equals(destination))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Pings until a reply arrives or <paramref name="within"/> has passed (one probe every ~200 ms).</summary>
    /// <param name="destination">The address to ping.</param>
    /// <param name="within">The overall bound.</param>
    /// <returns>True when a reply arrived in time.</returns>
    public bool WaitForReply(IPAddress destination, TimeSpan within)
    {
        var sw = Stopwatch.StartNew();
        do
        {
            if (PingOnce(destination, TimeSpan.FromMilliseconds(200)))
            {
                return true;
            }
        }
        while (sw.Elapsed < within);
        return false;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _v4?.Dispose();
        _v6?.Dispose();
    }

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
