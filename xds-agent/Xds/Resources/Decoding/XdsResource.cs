using Google.Protobuf;

namespace Istio.AppSwitch.Xds.Resources.Decoding;

/// <summary>One accepted resource: its name, the version the server gave it, and the decoded message.</summary>
/// <param name="Name">The resource name (a cluster, listener or route config name, or an EDS service name).</param>
/// <param name="Version">
/// The per-resource version from a Delta response; in SotW, the response's <c>version_info</c>.
/// </param>
/// <param name="Message">The decoded and validated message.</param>
public sealed record XdsResource(string Name, string Version, IMessage Message)
{
    /// <summary>The message as <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidCastException">The resource is of another type.</exception>
    public T As<T>()
        where T : IMessage<T> => (T)Message;
}

/// <summary>
/// Why one resource (or a whole response) was rejected. A value, not an exception: the ADS stream collects these
/// and turns them into one NACK.
/// </summary>
/// <param name="Name">The rejected resource, or null when the bytes did not parse far enough to know its name.</param>
/// <param name="Reason">What is wrong, for the NACK's <c>error_detail</c> and for logs.</param>
public sealed record XdsResourceError(string? Name, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => Name is null ? Reason : $"{Name}: {Reason}";
}

/// <summary>What one decoder made of one response: the resources that passed and the errors of those that did not.</summary>
/// <param name="Resources">The valid resources, in the order of the response.</param>
/// <param name="Errors">Every problem found; the response is NACKed when this is not empty.</param>
public sealed record XdsDecodeResult(IReadOnlyList<XdsResource> Resources, IReadOnlyList<XdsResourceError> Errors)
{
    /// <summary>Whether the response can be ACKed.</summary>
    public bool IsValid => Errors.Count == 0;
}
