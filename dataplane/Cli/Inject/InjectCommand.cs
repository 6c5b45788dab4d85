using System.CommandLine;
using Istio.AppSwitch.Injection;

namespace Istio.AppSwitch.Cli.Inject;

/// <summary>
/// <c>ax inject -f FILE|- [-o FILE] [--image IMAGE] [--socket-dir DIR] [--socket-group GID]</c>: the ax-injector, as
/// <c>istioctl kube-inject</c> is Istio's. Reads Kubernetes manifests and writes them with every workload's containers
/// started under <c>ax run</c> (docs/kubernetes.md). Any problem is reported on stderr with exit code 1, and nothing is
/// written.
/// </summary>
public static class InjectCommand
{
    /// <summary>Exit code when the input cannot be read or injected.</summary>
    public const int Failure = 1;

    private const string Examples = """


        Examples:
          ax inject -f bookinfo.yaml | kubectl apply -f -
          kubectl get deployment reviews-v1 -o yaml | ax inject -f - | kubectl apply -f -
          ax inject -f redis.yaml -o redis-injected.yaml --image registry.example/ax:0.1.0

        Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs, Pods and the
        items of Lists are injected; every other document is written back as it was. Annotations, on the workload
        or its pod template:
          ax.istio.io/inject: "false"     leave this workload alone
          ax.istio.io/command: '{"app": ["/docker-entrypoint.sh", "redis-server"]}'
                                          the command of a container that has none (its image's entrypoint)
        Injecting twice is the same as injecting once.
        """;

    /// <summary>Creates the command. <paramref name="stdin"/> gives the reader of <c>-f -</c>, asked for only then.</summary>
    public static Command Create(Func<TextReader> stdin)
    {
        var file = new Option<string>("--filename", "-f")
        {
            Description = "The manifests to inject: a YAML file with one or more documents, or - for standard input.",
            HelpName = "FILE|-",
            Required = true,
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Write the injected manifests to FILE instead of standard output (replaced whole, only on success).",
            HelpName = "FILE",
        };
        var image = new Option<string>("--image")
        {
            Description = "The image of the init container that copies ax into the pod: deploy/Dockerfile's, in your registry.",
            HelpName = "IMAGE",
            DefaultValueFactory = _ => InjectionOptions.DefaultImage,
        };
        var socketDirectory = new Option<string>("--socket-dir")
        {
            Description = "The host directory of the ax daemon's sockets (deploy/'s DaemonSet uses the default), mounted at the same path.",
            HelpName = "DIR",
            DefaultValueFactory = _ => InjectionOptions.DefaultSocketDirectory,
        };
        var socketGroup = new Option<long>("--socket-group")
        {
            Description = "A supplemental group added to each pod so that its containers may open the daemon's sockets (mode 0660): the group deploy/'s DaemonSet runs as.",
            HelpName = "GID",
            DefaultValueFactory = _ => InjectionOptions.DefaultSocketGroup,
        };
        var command = new Command(
            "inject",
            "Inject Kubernetes manifests for ax, as istioctl kube-inject does for sidecars: an init container copies ax into " +
            "each pod, every container's command runs under `ax run --labels <pod labels> --`, and the node's ax daemon socket " +
            "is mounted from the host." + Examples)
        {
            file,
            output,
            image,
            socketDirectory,
            socketGroup,
        };
        command.SetAction(parse =>
        {
            var options = new InjectionOptions
            {
                Image = parse.GetValue(image)!,
                SocketDirectory = parse.GetValue(socketDirectory)!,
                SocketGroup = parse.GetValue(socketGroup),
            };
            return Run(parse.GetValue(file)!, parse.GetValue(output), options, stdin, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    internal static int Run(string file, string? outputFile, InjectionOptions options, Func<TextReader> stdin, TextWriter stdout, TextWriter stderr)
    {
        string text;
        if (file != "-" && !File.Exists(file))
        {
            // The runtime's own message is a resource key in the trimmed binary (UseSystemResourceKeys).
            stderr.WriteLine($"ax: cannot read {file}: {(Directory.Exists(file) ? "it is a directory" : "no such file")}");
            return Failure;
        }
        try
        {
            text = file == "-" ? stdin().ReadToEnd() : File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ax: cannot read {file}: {e.Message}");
            return Failure;
        }

        InjectionResult result;
        try
        {
            result = ManifestInjector.Inject(text, options, file == "-" ? "<stdin>" : file);
        }
        catch (InjectionException e)
        {
            foreach (var problem in e.Problems)
            {
                stderr.WriteLine($"ax: {problem}");
            }
            stderr.WriteLine("ax: nothing was written");
            return Failure;
        }

        if (outputFile is null)
        {
            stdout.Write(result.Output);
            stdout.Flush();
            return 0;
        }

        // Through a temporary file beside the target, so that a failed write leaves the old file whole.
        var path = Path.GetFullPath(outputFile);
        var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.ax-inject.{Environment.ProcessId}");
        try
        {
            File.WriteAllText(temporary, result.Output);
            File.Move(temporary, path, overwrite: true);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ax: cannot write {outputFile}: {e.Message}");
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // The report above is what matters; a leftover temporary file is named after the target.
            }
            return Failure;
        }
    }
}
