using Google.Protobuf;

namespace Istio.AppSwitch.Grpc;

/// <summary>The shapes of call this library carries (a subset of Grpc.Core's <c>MethodType</c>).</summary>
public enum GrpcMethodType
{
    /// <summary>One request, one response.</summary>
    Unary,

    /// <summary>Streams in both directions at once, as ADS uses.</summary>
    DuplexStreaming,
}

/// <summary>
/// Describes one method of a service: its path and how to parse its messages (Grpc.Core's <c>Method</c> with
/// protobuf parsers in place of marshallers). Immutable, so a static instance per method can be shared.
/// </summary>
/// <typeparam name="TRequest">The request message.</typeparam>
/// <typeparam name="TResponse">The response message.</typeparam>
public sealed class GrpcMethod<TRequest, TResponse>
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    /// <summary>Creates the description of <c>/serviceName/name</c>.</summary>
    /// <param name="type">The shape of the call.</param>
    /// <param name="serviceName">The fully qualified service name, e.g. <c>ax.testing.v1.EchoService</c>.</param>
    /// <param name="name">The method name, e.g. <c>Echo</c>.</param>
    /// <param name="requestParser">Parses requests (used by servers).</param>
    /// <param name="responseParser">Parses responses (used by clients).</param>
    public GrpcMethod(
        GrpcMethodType type,
        string serviceName,
        string name,
        MessageParser<TRequest> requestParser,
        MessageParser<TResponse> responseParser)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(requestParser);
        ArgumentNullException.ThrowIfNull(responseParser);
        Type = type;
        ServiceName = serviceName;
        Name = name;
        FullName = $"/{serviceName}/{name}";
        RequestParser = requestParser;
        ResponseParser = responseParser;
    }

    /// <summary>The shape of the call.</summary>
    public GrpcMethodType Type { get; }

    /// <summary>The fully qualified service name.</summary>
    public string ServiceName { get; }

    /// <summary>The method name.</summary>
    public string Name { get; }

    /// <summary>The HTTP/2 <c>:path</c>: <c>/ServiceName/Name</c>.</summary>
    public string FullName { get; }

    /// <summary>Parses request messages.</summary>
    public MessageParser<TRequest> RequestParser { get; }

    /// <summary>Parses response messages.</summary>
    public MessageParser<TResponse> ResponseParser { get; }

    /// <inheritdoc />
    public override string ToString() => FullName;
}
