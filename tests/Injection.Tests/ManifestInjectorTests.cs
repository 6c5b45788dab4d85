using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using static Istio.AppSwitch.Injection.Tests.Yaml;

namespace Istio.AppSwitch.Injection.Tests;

public sealed class ManifestInjectorTests
{
    private static readonly InjectionOptions Options = new();

    private static InjectionResult Inject(string text) => ManifestInjector.Inject(text, Options, "test.yaml");

    [Theory]
    [InlineData("details-v1", "details", "app=details,version=v1", new[] { "ruby", "details.rb", "9080" })]
    [InlineData("ratings-v1", "ratings", "app=ratings,version=v1", new[] { "node", "/opt/microservices/ratings.js", "9080" })]
    [InlineData("reviews-v1", "reviews", "app=reviews,version=v1", new[] { "/opt/ol/wlp/bin/server", "run", "defaultServer" })]
    [InlineData("reviews-v2", "reviews", "app=reviews,version=v2", new[] { "/opt/ol/wlp/bin/server", "run", "defaultServer" })]
    [InlineData("reviews-v3", "reviews", "app=reviews,version=v3", new[] { "/opt/ol/wlp/bin/server", "run", "defaultServer" })]
    [InlineData("productpage-v1", "productpage", "app=productpage,version=v1",
        new[] { "gunicorn", "-b", "[::]:9080", "productpage:app", "-w", "8", "--keep-alive", "2", "-k", "gevent" })]
    public void Bookinfo_Deployment_InjectedFieldByField(string deployment, string container, string labels, string[] command)
    {
        var output = Inject(Manifest("bookinfo.yaml")).Output;
        var template = Map(Find(Documents(output), "Deployment", deployment), "spec", "template");

        Assert.Equal("0.1.0", Text(Map(template, "metadata", "annotations"), AxAnnotations.Injected));
        var spec = Map(template, "spec");

        var init = (YamlMappingNode)Seq(spec, "initContainers").Children.Single();
        Assert.Equal("ax-init", Text(init, "name"));
        Assert.Equal("ax:0.1.0", Text(init, "image"));
        Assert.Equal(["cp", "/usr/local/bin/ax", "/ax/ax"], Words(Seq(init, "command")));
        var initMount = (YamlMappingNode)Seq(init, "volumeMounts").Children.Single();
        Assert.Equal(("ax-bin", "/ax"), (Text(initMount, "name"), Text(initMount, "mountPath")));
        Assert.Equal("65532", Text(Map(init, "securityContext"), "runAsUser"));
        Assert.Equal(["ALL"], Words(Seq(init, "securityContext", "capabilities", "drop")));

        var app = Named(Seq(spec, "containers"), container);
        Assert.Equal(
            ["/ax/ax", "run", "--api", "/var/run/ax/ax.sock", "--name", container, "--labels", labels, "--", .. command],
            Words(Seq(app, "command")));
        Assert.False(app.Children.ContainsKey("args"));
        Assert.Equal("/var/run/ax/ax.sock", Text(Named(Seq(app, "env"), "AX_API"), "value"));
        var binaryMount = Named(Seq(app, "volumeMounts"), "ax-bin");
        Assert.Equal(("/ax", "true"), (Text(binaryMount, "mountPath"), Text(binaryMount, "readOnly")));
        var socketMount = Named(Seq(app, "volumeMounts"), "ax-run");
        Assert.Equal(("/var/run/ax", null), (Text(socketMount, "mountPath"), Text(socketMount, "readOnly")));

        var volumes = Seq(spec, "volumes");
        Assert.Empty(Map(Named(volumes, "ax-bin"), "emptyDir").Children);
        var hostPath = Map(Named(volumes, "ax-run"), "hostPath");
        Assert.Equal(("/var/run/ax", "Directory"), (Text(hostPath, "path"), Text(hostPath, "type")));
        Assert.Equal(["1500"], Words(Seq(spec, "securityContext", "supplementalGroups")));
        Assert.Equal($"bookinfo-{container}", Text(spec, "serviceAccountName"));
    }

    [Fact]
    public void Bookinfo_Reviews_KeepsItsOwnFieldsInOrder()
    {
        var output = Inject(Manifest("bookinfo.yaml")).Output;
        var spec = Map(Find(Documents(output), "Deployment", "reviews-v2"), "spec", "template", "spec");
        var reviews = Named(Seq(spec, "containers"), "reviews");

        Assert.Equal(["name", "image", "command", "imagePullPolicy", "env", "ports", "volumeMounts"], Keys(reviews));
        Assert.Equal(["LOG_DIR", "AX_API"], Names(Seq(reviews, "env")));
        Assert.Equal("/tmp/logs", Text(Named(Seq(reviews, "env"), "LOG_DIR"), "value"));
        Assert.Equal(["tmp", "wlp-output", "ax-bin", "ax-run"], Names(Seq(reviews, "volumeMounts")));
        Assert.Equal(["wlp-output", "tmp", "ax-bin", "ax-run"], Names(Seq(spec, "volumes")));
        Assert.Equal(["serviceAccountName", "initContainers", "containers", "volumes", "securityContext"], Keys(spec));
    }

    [Fact]
    public void Bookinfo_ServicesAndServiceAccounts_PassThroughCharacterForCharacter()
    {
        var input = Manifest("bookinfo.yaml");
        var result = Inject(input);

        var before = Chunks(input);
        var after = Chunks(result.Output);
        Assert.Equal(before.Count, after.Count);
        var passed = 0;
        for (var i = 0; i < before.Count; i++)
        {
            if (!before[i].Contains("kind: Deployment", StringComparison.Ordinal))
            {
                Assert.Equal(before[i], after[i]);
                passed++;
            }
        }
        Assert.Equal(9, passed); // 4 Services, 4 ServiceAccounts, the empty document after the last ---
        Assert.Equal(6, result.Workloads.Count);
        Assert.All(result.Workloads, w => Assert.Equal(InjectionOutcome.Injected, w.Outcome));
        Assert.Equal(["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"], result.Workloads.Select(w => w.Name));
    }

    [Theory]
    [InlineData("bookinfo.yaml")]
    [InlineData("redis.yaml")]
    [InlineData("batch.yaml")]
    public void Inject_Twice_SameBytesAsOnce(string manifest)
    {
        var once = Inject(Manifest(manifest));
        var twice = Inject(once.Output);

        Assert.Equal(once.Output, twice.Output);
        Assert.NotEmpty(twice.Workloads);
        Assert.All(twice.Workloads, w => Assert.NotEqual(InjectionOutcome.Injected, w.Outcome));
        Assert.Equal(once.Workloads.Count(w => w.Outcome == InjectionOutcome.Injected), twice.Workloads.Count(w => w.Outcome == InjectionOutcome.AlreadyInjected));
    }

    [Fact]
    public void Bookinfo_WithoutCommands_FailsNamingEveryContainer()
    {
        // Bookinfo as upstream ships it: no container has a command, the images' entrypoints run.
        var upstream = string.Join('\n', Manifest("bookinfo.yaml").Split('\n').Where(l => !l.Contains(AxAnnotations.Command, StringComparison.Ordinal)));
        using var output = new StringWriter();

        var error = Assert.Throws<InjectionException>(() => ManifestInjector.Inject(new StringReader(upstream), output, Options, "bookinfo.yaml"));

        Assert.Equal(5, error.Problems.Count);
        Assert.Equal("", output.ToString());
        Assert.StartsWith("bookinfo.yaml: document 3 (line 26), Deployment details-v1, container \"details\": has no command", error.Problems[0], StringComparison.Ordinal);
        Assert.Contains("ax.istio.io/command: '{\"details\": [\"ENTRYPOINT\", \"ARG\"]}'", error.Problems[0], StringComparison.Ordinal);
        Assert.Contains("Deployment ratings-v1, container \"ratings\": has no command", error.Problems[1], StringComparison.Ordinal);
        Assert.Contains("Deployment reviews-v3, container \"reviews\": has no command", error.Problems[4], StringComparison.Ordinal);
    }

    [Fact]
    public void Redis_StatefulSet_BothContainersWrapped_TypesAndOtherFieldsKept()
    {
        var input = Manifest("redis.yaml");
        var output = Inject(input).Output;
        var documents = Documents(output);
        var statefulSet = Find(documents, "StatefulSet", "redis");
        var spec = Map(statefulSet, "spec", "template", "spec");
        var labels = "app=redis,app.kubernetes.io/name=redis,tier=cache";

        Assert.Equal(["/ax/ax", "run", "--api", "/var/run/ax/ax.sock", "--name", "redis", "--labels", labels, "--", "redis-server", "/etc/redis/redis.conf", "--port", "6379"],
            Words(Seq(Named(Seq(spec, "containers"), "redis"), "command")));
        Assert.Equal(["/ax/ax", "run", "--api", "/var/run/ax/ax.sock", "--name", "exporter", "--labels", labels, "--", "/redis_exporter"],
            Words(Seq(Named(Seq(spec, "containers"), "exporter"), "command")));
        // "6379" stays a string, as Kubernetes requires of a command word.
        Assert.Contains("- \"6379\"", output, StringComparison.Ordinal);
        Assert.Equal(ScalarStyle.DoubleQuoted, ((YamlScalarNode)Seq(Named(Seq(spec, "containers"), "redis"), "command").Children[^1]).Style);
        // The pod's own security context is kept, with the socket group added.
        var securityContext = Map(spec, "securityContext");
        Assert.Equal(["runAsUser", "fsGroup", "supplementalGroups"], Keys(securityContext));
        Assert.Equal(("999", "999"), (Text(securityContext, "runAsUser"), Text(securityContext, "fsGroup")));
        Assert.Equal(["1500"], Words(Seq(securityContext, "supplementalGroups")));
        Assert.Equal(["redis-cli", "ping"], Words(Seq(Named(Seq(spec, "containers"), "redis"), "readinessProbe", "exec", "command")));
        Assert.Equal("data", Text(Map((YamlMappingNode)Seq(statefulSet, "spec", "volumeClaimTemplates").Children.Single(), "metadata"), "name"));
        // The ConfigMap, comment in its literal block included, and the Service are as they were.
        Assert.Equal(Chunks(input)[0], Chunks(output)[0]);
        Assert.Equal(Chunks(input)[1], Chunks(output)[1]);
    }

    [Fact]
    public void Batch_CronJobNested_JobSkipped_PodAndListItemInjected()
    {
        var input = Manifest("batch.yaml");
        var result = Inject(input);
        var documents = Documents(result.Output);

        var cronTemplate = Map(Find(documents, "CronJob", "ratings-report"), "spec", "jobTemplate", "spec", "template");
        Assert.Equal("0.1.0", Text(Map(cronTemplate, "metadata", "annotations"), AxAnnotations.Injected));
        Assert.Equal(["/ax/ax", "run", "--api", "/var/run/ax/ax.sock", "--name", "report", "--labels", "app=ratings-report", "--", "curl", "-sf", "http://ratings:9080/ratings/0"],
            Words(Seq(Named(Seq(cronTemplate, "spec", "containers"), "report"), "command")));
        Assert.Equal(["ax-init"], Names(Seq(cronTemplate, "spec", "initContainers")));
        Assert.Equal("OnFailure", Text(Map(cronTemplate, "spec"), "restartPolicy"));

        // The Job says ax.istio.io/inject: "false" on itself: its text is untouched.
        Assert.Equal(Chunks(input)[1], Chunks(result.Output)[1]);

        var pod = Find(documents, "Pod", "debug");
        Assert.Equal("0.1.0", Text(Map(pod, "metadata", "annotations"), AxAnnotations.Injected));
        Assert.Equal(["metadata", "annotations"], [Keys(pod)[2], Keys(Map(pod, "metadata"))[^1]]);
        Assert.Equal(["/ax/ax", "run", "--api", "/var/run/ax/ax.sock", "--name", "shell", "--labels", "app=debug", "--", "sleep", "infinity"],
            Words(Seq(Named(Seq(pod, "spec", "containers"), "shell"), "command")));

        var items = Seq(documents.Single(d => Text(d, "kind") == "List"), "items").Children.Cast<YamlMappingNode>().ToList();
        Assert.Equal(["sh", "-c", "while true; do sleep 60; done"], Words(Seq(Named(Seq(items[0], "spec", "template", "spec", "containers"), "agent"), "command"))[^3..]);
        Assert.Equal("60", Text(Map(items[1], "data"), "interval"));
        Assert.Equal(ScalarStyle.DoubleQuoted, ((YamlScalarNode)Map(items[1], "data").Children["interval"]).Style);

        Assert.Equal(
            [("CronJob", "ratings-report", InjectionOutcome.Injected), ("Job", "warmup", InjectionOutcome.Skipped),
             ("Pod", "debug", InjectionOutcome.Injected), ("DaemonSet", "node-agent", InjectionOutcome.Injected)],
            result.Workloads.Select(w => (w.Kind, w.Name, w.Outcome)));
        Assert.Equal([1, 2, 3, 4], result.Workloads.Select(w => w.Document));
    }

    [Fact]
    public void SkipAnnotation_OnPodTemplate_LeavesTheDocumentAsItWas()
    {
        const string Text = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: legacy}
            spec:
              template:
                metadata:
                  annotations:
                    ax.istio.io/inject: "false"   # stays out of the mesh
                spec:
                  containers: [{name: app, image: legacy:1}]

            """;
        var result = Inject(Text);

        Assert.Equal(Text, result.Output);
        Assert.Equal(InjectionOutcome.Skipped, result.Workloads.Single().Outcome);
    }

    [Fact]
    public void InjectAnnotation_NeitherTrueNorFalse_IsAnError()
    {
        const string Text = """
            apiVersion: v1
            kind: Pod
            metadata: {name: p, annotations: {ax.istio.io/inject: "yes please"}}
            spec: {containers: [{name: app, image: i, command: [x]}]}
            """;
        var error = Assert.Throws<InjectionException>(() => Inject(Text));
        Assert.Equal("test.yaml: document 1 (line 1), Pod p: annotation ax.istio.io/inject must be \"true\" or \"false\", not \"yes please\"", error.Problems.Single());
    }

    [Fact]
    public void OtherKinds_AndCommentsAndEmptyDocuments_PassThroughUnchanged()
    {
        const string Text = """
            # leading comment
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings   # trailing comment
            data:
              enabled: "true"
              count: '3'
            ---
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
            ...
            ---
            apiVersion: example.com/v1
            kind: Deployment
            metadata: {name: not-apps}
            spec: {template: {spec: {containers: [{name: a, image: b}]}}}
            """;
        var result = Inject(Text);

        Assert.Equal(Text, result.Output);
        Assert.Empty(result.Workloads);
    }

    [Fact]
    public void InjectedDocument_KeepsItsLeadingCommentsAndExplicitEnd()
    {
        const string Text = "# the web tier\n--- # web\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: web, image: nginx, command: [nginx]}]}\n...\n# after\n";
        var output = Inject(Text).Output;

        Assert.StartsWith("# the web tier\n--- # web\napiVersion: v1\nkind: Pod\n", output, StringComparison.Ordinal);
        Assert.EndsWith("\n...\n# after\n", output, StringComparison.Ordinal);
        Assert.Equal(output, Inject(output).Output);
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: [\n", "test.yaml: line 3, column 1: not valid YAML: ")]
    [InlineData("a: b: c\n", "test.yaml: line 1, column 5: not valid YAML: ")]
    [InlineData("just a string\n", "test.yaml: document 1 (line 1) is a scalar, not a Kubernetes object (a mapping)")]
    [InlineData("- a\n- b\n", "test.yaml: document 1 (line 1) is a list, not a Kubernetes object (a mapping)")]
    [InlineData("metadata: {name: x}\n", "test.yaml: document 1 (line 1) is not a Kubernetes object: it has no kind")]
    [InlineData("kind: Pod\nmetadata: {name: x}\n", "test.yaml: document 1 (line 1) is not a Kubernetes object: it has no apiVersion")]
    [InlineData("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n", "test.yaml: document 1 (line 1), Deployment d: has no spec.template")]
    [InlineData("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: 5}}}\n", "test.yaml: document 1 (line 1), CronJob c: spec.jobTemplate.spec.template must be a mapping")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n", "test.yaml: document 1 (line 1), Pod p: has no containers")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: i, command: x}]}\n", "test.yaml: document 1 (line 1), Pod p, container \"a\": command must be a list")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {ax.app: x}}\nspec: {containers: [{name: a, image: i, command: [x]}]}\n", "test.yaml: document 1 (line 1), Pod p: pod label \"ax.app\": keys starting with \"ax.\" are set by ax itself")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: i, command: [x]}], volumes: [{name: ax-bin, emptyDir: {}}]}\n", "test.yaml: document 1 (line 1), Pod p: the pod already has a volume named \"ax-bin\", which ax inject adds")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: i, command: [x], env: [{name: AX_API, value: /x}]}]}\n", "test.yaml: document 1 (line 1), Pod p, container \"a\": sets AX_API itself; ax inject sets it to /var/run/ax/ax.sock")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: i, command: [x], volumeMounts: [{name: v, mountPath: /ax/}]}]}\n", "test.yaml: document 1 (line 1), Pod p, container \"a\": already mounts something at /ax, where ax inject mounts its own volume")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {ax.istio.io/command: '{\"b\": [\"x\"]}'}}\nspec: {containers: [{name: a, image: i, command: [x]}]}\n", "test.yaml: document 1 (line 1), Pod p: annotation ax.istio.io/command names container \"b\", which the pod does not have")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {ax.istio.io/command: 'redis-server'}}\nspec: {containers: [{name: a, image: i}]}\n", "test.yaml: document 1 (line 1), Pod p: annotation ax.istio.io/command is not JSON: ")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {ax.istio.io/command: '[]'}}\nspec: {containers: [{name: a, image: i}]}\n", "test.yaml: document 1 (line 1), Pod p: annotation ax.istio.io/command must not be empty")]
    [InlineData("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: i}]}}]\n", "test.yaml: document 1 (line 1), List (no name), item 1 (line 3), Pod p, container \"a\": has no command")]
    public void BadInput_ClearError_NothingWritten(string text, string expected)
    {
        using var output = new StringWriter();
        var error = Assert.Throws<InjectionException>(() => ManifestInjector.Inject(new StringReader(text), output, Options, "test.yaml"));

        Assert.StartsWith(expected, error.Problems[0], StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void CommandAnnotation_ArrayForm_OnlyForOneContainer()
    {
        const string Text = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: two
              annotations: {ax.istio.io/command: '["entrypoint"]'}
            spec:
              containers: [{name: a, image: i}, {name: b, image: j, command: [b]}]
            """;
        var error = Assert.Throws<InjectionException>(() => Inject(Text));
        Assert.StartsWith("test.yaml: document 1 (line 1), Pod two, container \"a\": has no command", error.Problems.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void CommandAnnotation_OnWorkload_WordsThatLookTypedStayStrings()
    {
        const string Text = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: memcached
              annotations: {ax.istio.io/command: '{"memcached": ["memcached", "-p", "11211", "true"]}'}
            spec:
              template:
                metadata: {labels: {app: memcached}}
                spec:
                  containers: [{name: memcached, image: "memcached:1.6", args: ["-m", "64"]}]
            """;
        var output = Inject(Text).Output;
        var command = Seq(Named(Seq(Map(Documents(output)[0], "spec", "template", "spec"), "containers"), "memcached"), "command");

        Assert.Equal(["/ax/ax", "run", "--api", "/var/run/ax/ax.sock", "--name", "memcached", "--labels", "app=memcached", "--", "memcached", "-p", "11211", "true", "-m", "64"], Words(command));
        // Re-read as Kubernetes would: 11211 and true must not turn into a number and a boolean.
        Assert.Equal(ScalarStyle.DoubleQuoted, ((YamlScalarNode)command.Children[11]).Style);
        Assert.Equal(ScalarStyle.DoubleQuoted, ((YamlScalarNode)command.Children[12]).Style);
    }

    [Fact]
    public void Options_ImageSocketDirectoryAndGroup_AreUsed()
    {
        var options = new InjectionOptions { Image = "registry.example/ax:1.2.3", SocketDirectory = "/run/ax-test", SocketGroup = null, Version = "1.2.3" };
        var output = ManifestInjector.Inject(Manifest("redis.yaml"), options, "redis.yaml").Output;
        var spec = Map(Find(Documents(output), "StatefulSet", "redis"), "spec", "template", "spec");

        Assert.Equal("registry.example/ax:1.2.3", Text(Named(Seq(spec, "initContainers"), "ax-init"), "image"));
        Assert.Equal(["/ax/ax", "run", "--api", "/run/ax-test/ax.sock"], Words(Seq(Named(Seq(spec, "containers"), "redis"), "command"))[..4]);
        Assert.Equal("/run/ax-test", Text(Map(Named(Seq(spec, "volumes"), "ax-run"), "hostPath"), "path"));
        Assert.Equal("/run/ax-test", Text(Named(Seq(Named(Seq(spec, "containers"), "exporter"), "volumeMounts"), "ax-run"), "mountPath"));
        Assert.False(Map(spec, "securityContext").Children.ContainsKey("supplementalGroups"));
        Assert.Equal("1.2.3", Text(Map(Find(Documents(output), "StatefulSet", "redis"), "spec", "template", "metadata", "annotations"), AxAnnotations.Injected));
    }

    [Theory]
    [InlineData("relative/dir", "must be an absolute path")]
    [InlineData("/", "must be an absolute path other than /")]
    [InlineData("/ax", "must not contain nor be inside /ax")]
    public void Options_BadSocketDirectory_Refused(string directory, string expected)
    {
        var error = Assert.Throws<InjectionException>(() => ManifestInjector.Inject("", new InjectionOptions { SocketDirectory = directory }, "x"));
        Assert.Contains(expected, error.Problems.Single(), StringComparison.Ordinal);
    }
}
