using System.Text.RegularExpressions;
using Istio.AppSwitch.Ax;
using Istio.AppSwitch.Tests.Common.Tools;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Istio.AppSwitch.Injection.Tests;

/// <summary>
/// deploy/ parsed into typed Kubernetes objects and checked for what the API server requires and for what ax needs.
/// There is no cluster here: these tests are what stands between the manifests and a cluster.
/// </summary>
public sealed partial class DeployManifestTests
{
    private const string Namespace = "ax-system";

    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    // Values the kubelet would put in the fieldRef variables on some node.
    private static readonly Dictionary<string, string> FieldValues = new()
    {
        ["status.podIP"] = "10.244.1.7",
        ["metadata.name"] = "ax-x7k2p",
        ["metadata.namespace"] = Namespace,
        ["spec.serviceAccountName"] = "ax",
    };

    private static IEnumerable<string> Files => Directory.GetFiles(RepositoryPaths.Combine("deploy"), "*.yaml").Order(StringComparer.Ordinal);

    private static T Read<T>(string file) => Deserializer.Deserialize<T>(File.ReadAllText(RepositoryPaths.Combine("deploy", file)));

    private static DaemonSet DaemonSet => Read<DaemonSet>("30-daemonset.yaml");

    private static Container Daemon => DaemonSet.Spec!.Template!.Spec!.Containers.Single();

    [Fact]
    public void EveryFile_OneObject_WithApiVersionKindNameAndNamespace()
    {
        var kinds = new List<string>();
        foreach (var file in Files)
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(file)));
            Assert.Single(stream.Documents);

            var header = Deserializer.Deserialize<KubeObject>(File.ReadAllText(file));
            Assert.False(string.IsNullOrEmpty(header.ApiVersion), file);
            Assert.False(string.IsNullOrEmpty(header.Kind), file);
            Assert.Matches(DnsLabel(), header.Metadata!.Name!);
            Assert.Equal(header.Kind == "Namespace" ? null : Namespace, header.Metadata.Namespace);
            kinds.Add($"{header.ApiVersion} {header.Kind}");
        }
        // In the order `kubectl apply -f deploy/` applies them: the namespace first.
        Assert.Equal(["v1 Namespace", "v1 ServiceAccount", "v1 ConfigMap", "apps/v1 DaemonSet", "apps/v1 DaemonSet"], kinds); // the keeper, then the daemon
        Assert.Equal(Namespace, Read<KubeObject>("00-namespace.yaml").Metadata!.Name);
    }

    [Fact]
    public void ServiceAccount_NoApiToken_DaemonSetUsesIt()
    {
        var account = Read<ServiceAccount>("10-serviceaccount.yaml");
        var pod = DaemonSet.Spec!.Template!.Spec!;

        Assert.False(account.AutomountServiceAccountToken);
        Assert.Equal(account.Metadata!.Name, pod.ServiceAccountName);
        Assert.False(pod.AutomountServiceAccountToken);
    }

    [Fact]
    public void DaemonSet_SelectorMatchesTemplate_ContainersNamedWithImages_MountsExist()
    {
        var spec = DaemonSet.Spec!;
        var labels = spec.Template!.Metadata!.Labels!;
        Assert.NotEmpty(spec.Selector!.MatchLabels!);
        Assert.All(spec.Selector.MatchLabels!, l => Assert.Equal(l.Value, labels[l.Key]));
        Assert.Equal("false", spec.Template.Metadata.Annotations![AxAnnotations.Inject]);
        Assert.Equal("false", spec.Template.Metadata.Annotations!["sidecar.istio.io/inject"]);

        var pod = spec.Template.Spec!;
        Assert.All(pod.Containers, c =>
        {
            Assert.Matches(DnsLabel(), c.Name!);
            Assert.False(string.IsNullOrEmpty(c.Image));
        });
        var volumes = pod.Volumes.Select(v => v.Name).ToList();
        Assert.Equal(volumes.Count, volumes.Distinct().Count());
        Assert.All(pod.Containers.SelectMany(c => c.VolumeMounts), m => Assert.Contains(m.Name, volumes));
        Assert.All(pod.Volumes, v => Assert.Contains(pod.Containers.SelectMany(c => c.VolumeMounts), m => m.Name == v.Name));
    }

    [Fact]
    public void DaemonSet_MatchesWhatAxInjectPutsInPods()
    {
        var pod = DaemonSet.Spec!.Template!.Spec!;
        var options = new InjectionOptions();

        Assert.Equal(InjectionOptions.DefaultImage, Daemon.Image);
        Assert.Equal([PodInjector.ImageBinary], Daemon.Command);
        var socket = pod.Volumes.Single(v => v.HostPath is not null);
        Assert.Equal((options.SocketDirectory, "DirectoryOrCreate"), (socket.HostPath!.Path, socket.HostPath.Type));
        Assert.Equal(options.SocketDirectory, Daemon.VolumeMounts.Single(m => m.Name == socket.Name).MountPath);
        Assert.Equal(options.ApiSocket, Daemon.Env.Single(e => e.Name == "AX_API").Value);
        Assert.Equal((0L, InjectionOptions.DefaultSocketGroup), (pod.SecurityContext!.RunAsUser, pod.SecurityContext.RunAsGroup));
    }

    [Fact]
    public void DaemonSet_Privileges_HostPidAndPtraceOnly()
    {
        var pod = DaemonSet.Spec!.Template!.Spec!;

        Assert.True(pod.HostPid);
        // A daemon's restart breaks its applications' trapped calls until issue 10's hand-over: never by itself.
        Assert.Equal("OnDelete", DaemonSet.Spec!.UpdateStrategy!.Type);
        Assert.False(pod.HostNetwork);
        Assert.Equal("RuntimeDefault", pod.SecurityContext!.SeccompProfile!.Type);
        var context = Daemon.SecurityContext!;
        Assert.Equal(["ALL"], context.Capabilities!.Drop);
        Assert.Equal(["SYS_PTRACE", "NET_BIND_SERVICE"], context.Capabilities.Add);
        Assert.False(context.AllowPrivilegeEscalation);
        Assert.True(context.ReadOnlyRootFilesystem);
        Assert.Contains("memory", Daemon.Resources!.Requests!.Keys);
        Assert.DoesNotContain("cpu", Daemon.Resources.Limits!.Keys);
    }

    [Fact]
    public void DaemonSet_IstioCredentials_ProjectedTokenForIstioCa_AndRootCertConfigMap()
    {
        var pod = DaemonSet.Spec!.Template!.Spec!;
        var args = ResolvedArguments();

        var token = pod.Volumes.Single(v => v.Projected is not null);
        var projection = token.Projected!.Sources.Single().ServiceAccountToken!;
        Assert.Equal("istio-ca", projection.Audience);
        var tokenMount = Daemon.VolumeMounts.Single(m => m.Name == token.Name);
        Assert.True(tokenMount.ReadOnly);
        Assert.Equal($"{tokenMount.MountPath}/{projection.Path}", ValueOf(args, "--token"));

        var ca = pod.Volumes.Single(v => v.ConfigMap is not null);
        Assert.Equal("istio-ca-root-cert", ca.ConfigMap!.Name);
        Assert.Equal($"{Daemon.VolumeMounts.Single(m => m.Name == ca.Name).MountPath}/root-cert.pem", ValueOf(args, "--ca"));
    }

    [Fact]
    public void DaemonSet_Arguments_PilotOn15012_NodeIdOfThePod()
    {
        var args = ResolvedArguments();

        Assert.Equal("daemon", args[0]);
        Assert.Equal("istiod.istio-system.svc:15012", ValueOf(args, "--pilot"));
        Assert.Equal("sidecar~10.244.1.7~ax-x7k2p.ax-system~ax-system.svc.cluster.local", ValueOf(args, "--node-id"));
        Assert.Equal("ax", ValueOf(args, "--service-account"));
        Assert.Equal("/var/run/ax/ax.sock", ValueOf(args, "--api"));
    }

    [Fact]
    public void DaemonSet_Arguments_AcceptedByTheRealAxDaemonParser()
    {
        var args = ResolvedArguments();
        var directory = Directory.CreateTempSubdirectory("ax-deploy-").FullName;
        try
        {
            // The parser checks that --ca and --token exist: stand in files for the ones the kubelet mounts.
            foreach (var flag in new[] { "--ca", "--token" })
            {
                var index = args.IndexOf(flag) + 1;
                var file = Path.Combine(directory, Path.GetFileName(args[index]));
                File.WriteAllText(file, "placeholder");
                args[index] = file;
            }
            var result = AxCommandLine.Create(TextWriter.Null, TextWriter.Null).Parse(args);
            Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors.Select(e => e.Message)));
            Assert.Equal("daemon", result.CommandResult.Command.Name);

            // And one wrong value is caught by the same parse: the check is not vacuous.
            args[args.IndexOf("--seccomp-receive") + 1] = "sometimes";
            Assert.NotEmpty(AxCommandLine.Create(TextWriter.Null, TextWriter.Null).Parse(args).Errors);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void KeeperDaemonSet_ServesTheSocketTheDaemonLooksFor_OnTheSameHostDirectory()
    {
        var keeperSet = Read<DaemonSet>("25-keeper-daemonset.yaml");
        var pod = keeperSet.Spec!.Template!.Spec!;
        var keeper = pod.Containers.Single();
        Assert.All(keeperSet.Spec.Selector!.MatchLabels!, l => Assert.Equal(l.Value, keeperSet.Spec.Template.Metadata!.Labels![l.Key]));
        // Its own selector: the daemon's pods are not the keeper's, and a rollout of one leaves the other.
        Assert.NotEqual(DaemonSet.Spec!.Selector!.MatchLabels!["app.kubernetes.io/component"], keeperSet.Spec.Selector.MatchLabels!["app.kubernetes.io/component"]);
        Assert.Equal("OnDelete", keeperSet.Spec.UpdateStrategy!.Type);

        string[] args = [.. keeper.Args];
        var result = AxCommandLine.Create(TextWriter.Null, TextWriter.Null).Parse(args);
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors.Select(e => e.Message)));
        Assert.Equal("keeper", result.CommandResult.Command.Name);
        Assert.Equal(ValueOf(ResolvedArguments(), "--api") + ".keeper", ValueOf([.. args], "--socket"));

        // The socket's directory is the same host directory in both pods.
        var daemonPod = DaemonSet.Spec.Template!.Spec!;
        var daemonDir = daemonPod.Volumes.Single(v => v.Name == Daemon.VolumeMounts.Single(m => m.MountPath == "/var/run/ax").Name).HostPath!.Path;
        var keeperDir = pod.Volumes.Single(v => v.Name == keeper.VolumeMounts.Single(m => m.MountPath == "/var/run/ax").Name).HostPath!.Path;
        Assert.Equal(daemonDir, keeperDir);
        // Root, as the daemon: the keeper serves root and its own uid only.
        Assert.Equal(0L, pod.SecurityContext!.RunAsUser);
    }

    [Fact]
    public void DaemonSet_Probes_AreAxCommandsThatParse()
    {
        foreach (var probe in new[] { Daemon.StartupProbe, Daemon.ReadinessProbe, Daemon.LivenessProbe })
        {
            var command = probe!.Exec!.Command;
            Assert.Equal(PodInjector.ImageBinary, command[0]);
            var result = AxCommandLine.Create(TextWriter.Null, TextWriter.Null).Parse(command.Skip(1).ToArray());
            Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors.Select(e => e.Message)));
        }
    }

    [Fact]
    public void ConfigMap_HoldsEveryKeyTheDaemonSetReads()
    {
        var config = Read<ConfigMap>("20-configmap.yaml");
        var references = Daemon.Env.Select(e => e.ValueFrom?.ConfigMapKeyRef).OfType<KeySelector>().ToList();

        Assert.NotEmpty(references);
        Assert.All(references, r =>
        {
            Assert.Equal(config.Metadata!.Name, r.Name);
            Assert.Contains(r.Key!, config.Data!.Keys);
        });
        Assert.Equal(config.Data!.Keys.Order(StringComparer.Ordinal), references.Select(r => r.Key!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Dockerfile_PutsTheBinaryWhereTheManifestsLookForIt()
    {
        var dockerfile = File.ReadAllText(RepositoryPaths.Combine("deploy", "Dockerfile"));
        Assert.Contains($"COPY out/ax {PodInjector.ImageBinary}", dockerfile, StringComparison.Ordinal);
        Assert.Contains($"docker build -f deploy/Dockerfile -t {InjectionOptions.DefaultImage} .", dockerfile, StringComparison.Ordinal);
    }

    // The container's args as the kubelet would pass them: every $(VAR) replaced from the container's env.
    private static List<string> ResolvedArguments()
    {
        var config = Read<ConfigMap>("20-configmap.yaml");
        var environment = new Dictionary<string, string>();
        foreach (var variable in Daemon.Env)
        {
            environment[variable.Name!] = variable.Value
                ?? (variable.ValueFrom?.FieldRef is { } field ? FieldValues[field.FieldPath!] : null)
                ?? config.Data![variable.ValueFrom!.ConfigMapKeyRef!.Key!];
        }
        return [.. Daemon.Args.Select(a => Reference().Replace(a, m => environment.TryGetValue(m.Groups[1].Value, out var v) ? v : throw new KeyNotFoundException($"{m.Value} in '{a}' is not in the container's env")))];
    }

    private static string ValueOf(List<string> args, string flag) => args[args.IndexOf(flag) + 1];

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Reference();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();
}
