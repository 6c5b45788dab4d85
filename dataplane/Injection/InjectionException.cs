namespace Istio.AppSwitch.Injection;

/// <summary>
/// The manifests cannot be injected. <see cref="Problems"/> holds every problem found, not only the first, each naming its
/// document, workload and container, so that one run reports everything to fix.
/// </summary>
public sealed class InjectionException : Exception
{
    public InjectionException()
        : this([])
    {
    }

    public InjectionException(string message)
        : this([message])
    {
    }

    public InjectionException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    public InjectionException(IReadOnlyList<string> problems)
        : base(string.Join(Environment.NewLine, problems))
    {
        Problems = problems;
    }

    /// <summary>Every problem, one sentence each.</summary>
    public IReadOnlyList<string> Problems { get; }
}
