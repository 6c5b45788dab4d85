namespace Istio.AppSwitch.Injection;

/// <summary>What happened to one workload (a pod template) of the input.</summary>
public enum InjectionOutcome
{
    /// <summary>ax's init container, launcher and socket were added.</summary>
    Injected,

    /// <summary><c>ax.istio.io/inject: "false"</c>: left as it was.</summary>
    Skipped,

    /// <summary>It carries <c>ax.istio.io/injected</c> already: left as it was.</summary>
    AlreadyInjected,
}

/// <summary>One workload the injector looked at.</summary>
/// <param name="Document">The document's number in the input, from 1.</param>
/// <param name="Kind">The object's kind (for an item of a List, the item's).</param>
/// <param name="Name">Its <c>metadata.name</c>, or <c>metadata.generateName</c>, or empty.</param>
/// <param name="Outcome">What was done.</param>
public sealed record InjectedWorkload(int Document, string Kind, string Name, InjectionOutcome Outcome);

/// <summary>The injected manifests and what was done to each workload.</summary>
/// <param name="Output">The whole output text.</param>
/// <param name="Workloads">Each workload met, in input order.</param>
public sealed record InjectionResult(string Output, IReadOnlyList<InjectedWorkload> Workloads);
