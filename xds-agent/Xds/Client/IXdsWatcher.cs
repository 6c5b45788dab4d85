namespace Istio.AppSwitch.Xds.Client;

/// <summary>What changed in one accepted push.</summary>
/// <param name="TypeUrl">The type whose set changed.</param>
/// <param name="Version">The version now in force for that type.</param>
/// <param name="Updated">Names added or replaced.</param>
/// <param name="Removed">Names no longer present (removed by the server or no longer subscribed).</param>
public sealed record XdsChange(string TypeUrl, string Version, IReadOnlyList<string> Updated, IReadOnlyList<string> Removed);

/// <summary>Why an ambient error was reported.</summary>
public enum XdsAmbientErrorKind
{
    /// <summary>A push was rejected; the last good resources of its type stay in force.</summary>
    Nack,

    /// <summary>The stream to the server failed or ended; everything stays in force until it comes back.</summary>
    ConnectionLost,
}

/// <summary>An error that leaves every resource as it was (grpc-go's <c>AmbientError</c>).</summary>
/// <param name="Kind">What happened.</param>
/// <param name="TypeUrl">The type a NACK was about; null for a connection error.</param>
/// <param name="Message">The NACK's <c>error_detail</c> message, or the connection error.</param>
public sealed record XdsAmbientError(XdsAmbientErrorKind Kind, string? TypeUrl, string Message);

/// <summary>
/// Receives the client's events. The client calls one method at a time, in order, never concurrently (grpc-go's
/// <c>ResourceWatcher</c>), on its own task: a slow watcher delays later events, not the ADS stream.
/// </summary>
public interface IXdsWatcher
{
    /// <summary>A push was accepted: <paramref name="snapshot"/> is the whole new view, consistent as of now.</summary>
    void OnChanged(XdsSnapshot snapshot, XdsChange change);

    /// <summary>
    /// A resource is gone (the server removed it, or a SotW full set left it out): drop it. The snapshot that
    /// <see cref="OnChanged"/> got just before already lacks it.
    /// </summary>
    void OnResourceError(string typeUrl, string name, string reason);

    /// <summary>Something failed that changes nothing: keep using the resources you have.</summary>
    void OnAmbientError(XdsAmbientError error);
}
