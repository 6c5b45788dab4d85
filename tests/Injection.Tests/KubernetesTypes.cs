using YamlDotNet.Serialization;

namespace Istio.AppSwitch.Injection.Tests;

// The fields of the Kubernetes API that the deploy/ tests check, as YamlDotNet deserializes them. Unknown fields are
// ignored by the deserializer; everything Kubernetes requires of these objects is here.

public class KubeObject
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ObjectMeta? Metadata { get; set; }
}

public sealed class ObjectMeta
{
    public string? Name { get; set; }

    public string? Namespace { get; set; }

    public Dictionary<string, string>? Labels { get; set; }

    public Dictionary<string, string>? Annotations { get; set; }
}

public sealed class ConfigMap : KubeObject
{
    public Dictionary<string, string>? Data { get; set; }
}

public sealed class ServiceAccount : KubeObject
{
    public bool? AutomountServiceAccountToken { get; set; }
}

public sealed class DaemonSet : KubeObject
{
    public DaemonSetSpec? Spec { get; set; }
}

public sealed class DaemonSetSpec
{
    public DaemonSetUpdateStrategy? UpdateStrategy { get; set; }

    public LabelSelector? Selector { get; set; }

    public PodTemplate? Template { get; set; }
}

public sealed class DaemonSetUpdateStrategy
{
    public string? Type { get; set; }
}

public sealed class LabelSelector
{
    public Dictionary<string, string>? MatchLabels { get; set; }
}

public sealed class PodTemplate
{
    public ObjectMeta? Metadata { get; set; }

    public PodSpec? Spec { get; set; }
}

public sealed class PodSpec
{
    public string? ServiceAccountName { get; set; }

    public bool? AutomountServiceAccountToken { get; set; }

    [YamlMember(Alias = "hostPID")]
    public bool HostPid { get; set; }

    public bool HostNetwork { get; set; }

    public PodSecurityContext? SecurityContext { get; set; }

    public List<Container> Containers { get; set; } = [];

    public List<Volume> Volumes { get; set; } = [];
}

public sealed class PodSecurityContext
{
    public long? RunAsUser { get; set; }

    public long? RunAsGroup { get; set; }

    public SeccompProfile? SeccompProfile { get; set; }
}

public sealed class SeccompProfile
{
    public string? Type { get; set; }
}

public sealed class Container
{
    public string? Name { get; set; }

    public string? Image { get; set; }

    public List<string> Command { get; set; } = [];

    public List<string> Args { get; set; } = [];

    public List<EnvVar> Env { get; set; } = [];

    public List<VolumeMount> VolumeMounts { get; set; } = [];

    public ContainerSecurityContext? SecurityContext { get; set; }

    public Probe? StartupProbe { get; set; }

    public Probe? ReadinessProbe { get; set; }

    public Probe? LivenessProbe { get; set; }

    public ResourceRequirements? Resources { get; set; }
}

public sealed class EnvVar
{
    public string? Name { get; set; }

    public string? Value { get; set; }

    public EnvVarSource? ValueFrom { get; set; }
}

public sealed class EnvVarSource
{
    public ObjectFieldSelector? FieldRef { get; set; }

    public KeySelector? ConfigMapKeyRef { get; set; }
}

public sealed class ObjectFieldSelector
{
    public string? FieldPath { get; set; }
}

public sealed class KeySelector
{
    public string? Name { get; set; }

    public string? Key { get; set; }
}

public sealed class VolumeMount
{
    public string? Name { get; set; }

    public string? MountPath { get; set; }

    public bool ReadOnly { get; set; }
}

public sealed class ContainerSecurityContext
{
    public bool? AllowPrivilegeEscalation { get; set; }

    public bool? ReadOnlyRootFilesystem { get; set; }

    public Capabilities? Capabilities { get; set; }
}

public sealed class Capabilities
{
    public List<string> Add { get; set; } = [];

    public List<string> Drop { get; set; } = [];
}

public sealed class Probe
{
    public ExecAction? Exec { get; set; }

    public int? PeriodSeconds { get; set; }
}

public sealed class ExecAction
{
    public List<string> Command { get; set; } = [];
}

public sealed class ResourceRequirements
{
    public Dictionary<string, string>? Requests { get; set; }

    public Dictionary<string, string>? Limits { get; set; }
}

public sealed class Volume
{
    public string? Name { get; set; }

    public HostPathVolume? HostPath { get; set; }

    public ProjectedVolume? Projected { get; set; }

    public ConfigMapVolume? ConfigMap { get; set; }

    public Dictionary<string, string>? EmptyDir { get; set; }
}

public sealed class HostPathVolume
{
    public string? Path { get; set; }

    public string? Type { get; set; }
}

public sealed class ProjectedVolume
{
    public List<VolumeProjection> Sources { get; set; } = [];
}

public sealed class VolumeProjection
{
    public ServiceAccountTokenProjection? ServiceAccountToken { get; set; }
}

public sealed class ServiceAccountTokenProjection
{
    public string? Audience { get; set; }

    public long? ExpirationSeconds { get; set; }

    public string? Path { get; set; }
}

public sealed class ConfigMapVolume
{
    public string? Name { get; set; }
}
