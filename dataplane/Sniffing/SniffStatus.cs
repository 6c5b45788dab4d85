namespace Istio.AppSwitch.Sniffing;

/// <summary>How far <see cref="ProtocolSniffer.Sniff"/> got with the bytes it was given.</summary>
public enum SniffStatus
{
    /// <summary>Done: more bytes would not change the result (which may still be partial, for example an HTTP header
    /// block over the limits, or a text command that both Redis and memcached accept).</summary>
    Complete,

    /// <summary>The bytes are a valid prefix of a recognised protocol but end too early; the result carries what is
    /// known so far.</summary>
    NeedMoreData,

    /// <summary>No protocol matches; the result's protocol is <see cref="SniffedProtocol.Unknown"/>.</summary>
    Unrecognized,
}
