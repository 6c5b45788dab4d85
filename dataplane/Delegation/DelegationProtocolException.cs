namespace Istio.AppSwitch.Delegation;

/// <summary>What was wrong with a frame.</summary>
public enum DelegationErrorKind
{
    /// <summary>The frame does not start with "AXD1".</summary>
    BadMagic,

    /// <summary>The kind byte is neither 1 (outbound) nor 2 (inbound).</summary>
    BadKind,

    /// <summary>The flags are not 0.</summary>
    BadFlags,

    /// <summary>nfds does not match the kind, or the fds that arrived do not match nfds.</summary>
    BadFdCount,

    /// <summary>The metadata is longer than the limit.</summary>
    TooLong,

    /// <summary>The metadata is not exactly one complete PROXY v2 header.</summary>
    BadMetadata,

    /// <summary>The stream ended inside a frame.</summary>
    Truncated,
}

/// <summary>
/// A malformed delegation frame. The stream cannot be resynchronised after one: the reader that threw it fails every
/// later read. Any fd that arrived with the frame has been closed.
/// </summary>
public sealed class DelegationProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DelegationProtocolException(DelegationErrorKind kind, string message)
        : base(message) => Kind = kind;

    /// <summary>Creates the exception (for serializers; prefer the kind overload).</summary>
    public DelegationProtocolException()
    {
    }

    /// <summary>Creates the exception (for serializers; prefer the kind overload).</summary>
    public DelegationProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception (for serializers; prefer the kind overload).</summary>
    public DelegationProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>What was wrong.</summary>
    public DelegationErrorKind Kind { get; }
}
