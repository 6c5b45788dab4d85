using System.Reflection;

namespace Istio.AppSwitch.Injection;

/// <summary>What <c>ax inject</c> adds to a pod: the image the <c>ax</c> binary comes from and where the daemon's socket is.</summary>
public sealed record InjectionOptions
{
    /// <summary>The default of <see cref="SocketDirectory"/>: the DaemonSet in <c>deploy/</c> puts its API socket there on every node.</summary>
    public const string DefaultSocketDirectory = "/var/run/ax";

    /// <summary>
    /// The default of <see cref="SocketGroup"/>: the group the DaemonSet in <c>deploy/</c> runs as, so that its sockets
    /// (mode 0660) are open to pods in it. Not 1337, Istio's proxy id, which Istio's iptables rules exempt from capture.
    /// </summary>
    public const long DefaultSocketGroup = 1500;

    /// <summary>This injector's version (the assembly's, without the source revision): the value of <see cref="AxAnnotations.Injected"/>.</summary>
    public static string InjectorVersion { get; } = ReadVersion();

    /// <summary>The image built from <c>deploy/Dockerfile</c> at this version.</summary>
    public static string DefaultImage { get; } = $"ax:{InjectorVersion}";

    /// <summary>The image of the init container, which must hold the <c>ax</c> binary at <c>/usr/local/bin/ax</c> and <c>cp</c>.</summary>
    public string Image { get; init; } = DefaultImage;

    /// <summary>The host directory of the daemon's sockets, mounted at the same path in every container.</summary>
    public string SocketDirectory { get; init; } = DefaultSocketDirectory;

    /// <summary>A supplemental group added to the pod so that non-root containers may open the daemon's sockets; null adds none.</summary>
    public long? SocketGroup { get; init; } = DefaultSocketGroup;

    /// <summary>The value written in <see cref="AxAnnotations.Injected"/>.</summary>
    public string Version { get; init; } = InjectorVersion;

    /// <summary>The daemon's API socket as the containers see it.</summary>
    public string ApiSocket => SocketDirectory.TrimEnd('/') + "/ax.sock";

    /// <summary>Every problem with these options, each a sentence for the user; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Image) || Image.Any(char.IsWhiteSpace))
        {
            problems.Add($"the image \"{Image}\" is not an image reference");
        }
        if (string.IsNullOrEmpty(SocketDirectory) || !SocketDirectory.StartsWith('/') || SocketDirectory.TrimEnd('/').Length == 0
            || SocketDirectory.Any(char.IsWhiteSpace))
        {
            problems.Add($"the socket directory \"{SocketDirectory}\" must be an absolute path other than /");
        }
        else if (PodInjector.BinaryMountPath.StartsWith(SocketDirectory.TrimEnd('/') + "/", StringComparison.Ordinal)
            || SocketDirectory.TrimEnd('/') == PodInjector.BinaryMountPath
            || SocketDirectory.StartsWith(PodInjector.BinaryMountPath + "/", StringComparison.Ordinal))
        {
            problems.Add($"the socket directory \"{SocketDirectory}\" must not contain nor be inside {PodInjector.BinaryMountPath}, where the ax binary is mounted");
        }
        if (SocketGroup is < 0 or > uint.MaxValue - 1)
        {
            problems.Add($"the socket group {SocketGroup} is not a group id");
        }
        if (string.IsNullOrWhiteSpace(Version))
        {
            problems.Add("the injector version must not be empty");
        }
        return problems;
    }

    private static string ReadVersion()
    {
        var version = typeof(InjectionOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(InjectionOptions).Assembly.GetName().Version?.ToString(3)
            ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 ? version[..plus] : version;
    }
}
