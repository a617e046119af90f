namespace Flannel.Udp;

/// <summary>Why the data path dropped a packet; each reason has its own counter.</summary>
internal enum DropReason
{
    /// <summary>A datagram whose source is not the public IP of a current peer.</summary>
    UnknownSource = 0,

    /// <summary>Shorter than an IPv4 header, or shorter than the header length it declares.</summary>
    Truncated,

    /// <summary>The IP version is not 4.</summary>
    BadVersion,

    /// <summary>The header length (IHL) is below 5 words.</summary>
    BadHeaderLength,

    /// <summary>The IPv4 total length does not equal the size of the datagram or TUN frame.</summary>
    LengthMismatch,

    /// <summary>The IPv4 header checksum is wrong.</summary>
    BadChecksum,

    /// <summary>The TTL reached 0 at this hop.</summary>
    TtlExpired,

    /// <summary>No peer subnet contains the destination (an ICMP net-unreachable was sent where allowed).</summary>
    NoRoute,

    /// <summary>The TUN handed over a frame the data path cannot forward (bad virtio header, unsupported offload).</summary>
    BadFrame,

    /// <summary>The kernel refused to send the datagram (buffer full, peer unreachable).</summary>
    SendFailed,

    /// <summary>The kernel refused the write to the TUN device.</summary>
    TunWriteFailed,
}

/// <summary>Names of <see cref="DropReason"/> values as metric tags.</summary>
internal static class DropReasons
{
    public const int Count = (int)DropReason.TunWriteFailed + 1;

    public static string Tag(DropReason reason) => reason switch
    {
        DropReason.UnknownSource => "unknown_source",
        DropReason.Truncated => "truncated",
        DropReason.BadVersion => "bad_version",
        DropReason.BadHeaderLength => "bad_header_length",
        DropReason.LengthMismatch => "length_mismatch",
        DropReason.BadChecksum => "bad_checksum",
        DropReason.TtlExpired => "ttl_expired",
        DropReason.NoRoute => "no_route",
        DropReason.BadFrame => "bad_frame",
        DropReason.SendFailed => "send_failed",
        DropReason.TunWriteFailed => "tun_write_failed",
        _ => "other",
    };
}
