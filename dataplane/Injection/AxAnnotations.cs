namespace Istio.AppSwitch.Injection;

/// <summary>The annotations <c>ax inject</c> reads and writes (docs/kubernetes.md#annotations).</summary>
public static class AxAnnotations
{
    /// <summary>
    /// <c>"false"</c> on a workload or its pod template leaves it as it is; <c>"true"</c> or no annotation injects it.
    /// </summary>
    public const string Inject = "ax.istio.io/inject";

    /// <summary>
    /// The command of containers that have none in the manifest (their image's entrypoint): a JSON object from
    /// container name to an array of words, or, for a pod with one container, a JSON array of words.
    /// </summary>
    public const string Command = "ax.istio.io/command";

    /// <summary>Written on the pod template of an injected workload, with the injector's version: injecting again is a no-op.</summary>
    public const string Injected = "ax.istio.io/injected";
}
