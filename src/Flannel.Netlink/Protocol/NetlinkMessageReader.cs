using System.Runtime.InteropServices;

namespace Flannel.Netlink.Protocol;

/// <summary>One netlink message inside a received datagram: its header and its payload (a view, valid only until the next receive).</summary>
internal readonly ref struct NetlinkMessage
{
    public NetlinkMessage(NetlinkHeader header, ReadOnlySpan<byte> payload)
    {
        Header = header;
        Payload = payload;
    }

    public NetlinkHeader Header { get; }

    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>Iterates the messages of one datagram, validating every length.</summary>
internal ref struct NetlinkMessageReader
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram) => _rest = datagram;

    public bool TryRead(out NetlinkMessage message)
    {
        if (_rest.IsEmpty)
        {
            message = default;
            return false;
        }

        if (_rest.Length < Nl.HeaderSize)
        {
            throw new NetlinkProtocolException($"truncated netlink header: {_rest.Length} bytes left, a header needs {Nl.HeaderSize}");
        }

        var header = MemoryMarshal.Read<NetlinkHeader>(_rest);
        if (header.Length < Nl.HeaderSize || header.Length > (uint)_rest.Length)
        {
            throw new NetlinkProtocolException($"netlink message length {header.Length} is invalid ({_rest.Length} bytes left in the datagram, type {header.Type}, seq {header.Sequence})");
        }

        var len = (int)header.Length;
        message = new NetlinkMessage(header, _rest[Nl.HeaderSize..len]);
        var next = Math.Min(Nl.Align(len), _rest.Length);
        _rest = _rest[next..];
        return true;
    }

    /// <summary>Reads a fixed header at the start of a payload, failing clearly when it is too short.</summary>
    public static T ReadHeader<T>(ReadOnlySpan<byte> payload, string name)
        where T : unmanaged
    {
        var size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (payload.Length < size)
        {
            throw new NetlinkProtocolException($"truncated {name}: {payload.Length} bytes, expected at least {size}");
        }

        return MemoryMarshal.Read<T>(payload);
    }
}
