using System.Text;
using System.Text.Json.Nodes;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.AppSwitch.Tests.Common.Xds;
using Istio.AppSwitch.Tests.Fuzzing;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Resources.Decoding;
using Istio.AppSwitch.Xds.Tests.Resources;
using Istio.AppSwitch.Xds.Translation;

namespace Istio.AppSwitch.Xds.Tests.Fuzz;

/// <summary>
/// The real istiod corpus, damaged: Any-wrapped CDS, EDS, LDS (with its RBAC filters) and RDS resources through the
/// decoders and the translator, and config dumps through <see cref="ConfigDumpReader"/> (what <c>ax translate</c>
/// reads). A bad resource must come back as a decode error (what the ADS stream NACKs) or a translation diagnostic,
/// never as an exception.
/// </summary>
public sealed class XdsResourceFuzzTests
{
    /// <summary>Cases of the protobuf driver (decode, then translate what decoded).</summary>
    public const int ProtobufCases = 1500;

    /// <summary>Cases of the config-dump driver with byte mutations.</summary>
    public const int JsonByteCases = 400;

    /// <summary>Cases of the config-dump driver with structural (JSON tree) mutations.</summary>
    public const int JsonTreeCases = 150;

    private static readonly Lazy<ConfigDumpReadResult> DeathStarBench = new(() =>
        ConfigDumpReader.Read(File.ReadAllBytes(Corpus.PathOf(Corpus.DeathStarBench))));

    private static readonly Lazy<Dictionary<string, byte[][]>> ProtobufCorpus = new(BuildProtobufCorpus);

    private static readonly string[] TypeUrls =
        [XdsTestResources.ClusterType, XdsTestResources.EndpointType, XdsTestResources.ListenerType, XdsTestResources.RouteType];

    // Decoding and translating a resource of the corpus allocates well under a megabyte; a damaged one may not cost
    // more than a fixed allowance plus a bounded multiple of its size.
    private static readonly FuzzBudget ProtobufBudget = new(TimeSpan.FromSeconds(5), 8L << 20, 512);

    private static readonly FuzzBudget JsonBudget = new(TimeSpan.FromSeconds(10), 16L << 20, 1024);

    [Fact]
    public void DecodeAndTranslate_MutatedCorpusResources_1500Cases_ErrorsNeverExceptions()
    {
        var corpus = ProtobufCorpus.Value;
        FuzzDriver.Run("xDS protobuf", FuzzDriver.Seed(17), FuzzDriver.Cases(ProtobufCases), ProtobufBudget,
            random =>
            {
                var typeUrl = TypeUrls[random.Next(TypeUrls.Length)];
                var mutator = new ByteMutator(random, corpus[typeUrl]);
                var value = mutator.Next();
                // Now and then the Any names another type, as a confused or hostile server would.
                var anyType = random.Next(20) == 0 ? TypeUrls[random.Next(TypeUrls.Length)] : typeUrl;
                return (TypeUrl: typeUrl, AnyType: anyType, Value: value, What: mutator.LastDescription);
            },
            input => input.Value.Length,
            input => $"{input.TypeUrl} as {input.AnyType} {input.What} {Convert.ToBase64String(input.Value)}",
            input =>
            {
                var decoder = XdsDecoders.For(input.TypeUrl)!;
                var any = new Any { TypeUrl = input.AnyType, Value = ByteString.CopyFrom(input.Value) };
                var result = decoder.DecodeOne(any, "fuzz-1");
                Assert.Equal(1, result.Resources.Count + result.Errors.Count);
                if (input.AnyType != input.TypeUrl)
                {
                    Assert.False(result.IsValid);
                }

                foreach (var error in result.Errors)
                {
                    Assert.False(string.IsNullOrWhiteSpace(error.Reason));
                }

                foreach (var resource in result.Resources)
                {
                    var translation = MeshTranslator.Translate(Input(resource.Message));
                    Assert.NotNull(translation);
                    _ = TranslationJsonWriter.ToJson(translation);
                }
            });
    }

    [Fact]
    public void Read_ByteMutatedConfigDumps_400Cases_ErrorsNeverExceptions()
    {
        byte[][] corpus =
        [
            File.ReadAllBytes(Corpus.PathOf(Corpus.EdsEndpoints)),
            File.ReadAllBytes(Corpus.PathOf(Corpus.RouteRetriesAndCluster)),
            SmallDeathStarBenchDump(),
        ];
        FuzzDriver.Run("config dump (bytes)", FuzzDriver.Seed(19), FuzzDriver.Cases(JsonByteCases), JsonBudget,
            random =>
            {
                var mutator = new ByteMutator(random, corpus);
                return (Data: mutator.Next(), What: mutator.LastDescription);
            },
            input => input.Data.Length,
            input => $"{input.What} {Convert.ToBase64String(input.Data)}",
            input => ReadAndTranslate(input.Data));
    }

    [Fact]
    public void Read_TreeMutatedConfigDumps_150Cases_ErrorsNeverExceptions()
    {
        JsonNode[] corpus =
        [
            JsonNode.Parse(File.ReadAllBytes(Corpus.PathOf(Corpus.EdsEndpoints)))!,
            JsonNode.Parse(File.ReadAllBytes(Corpus.PathOf(Corpus.RouteRetriesAndCluster)))!,
            JsonNode.Parse(SmallDeathStarBenchDump())!,
        ];
        FuzzDriver.Run("config dump (JSON tree)", FuzzDriver.Seed(23), FuzzDriver.Cases(JsonTreeCases), JsonBudget,
            random =>
            {
                var tree = corpus[random.Next(corpus.Length)].DeepClone();
                var what = new StringBuilder();
                for (var steps = 1 + random.Next(3); steps > 0; steps--)
                {
                    what.Append(JsonTreeMutator.Mutate(tree, random)).Append(' ');
                }

                return (Data: JsonTreeMutator.ToUtf8(tree), What: what.ToString());
            },
            input => input.Data.Length,
            input => input.What,
            input => ReadAndTranslate(input.Data));
    }

    private static void ReadAndTranslate(byte[] data)
    {
        var result = ConfigDumpReader.Read(data);
        if (!result.Succeeded)
        {
            Assert.NotEmpty(result.Errors);
            return;
        }

        var translation = MeshTranslator.Translate(result);
        Assert.NotNull(translation);
        _ = TranslationJsonWriter.ToJson(translation);
    }

    private static TranslationInput Input(IMessage message) => message switch
    {
        Cluster cluster => new TranslationInput([cluster], [], [], []),
        ClusterLoadAssignment endpoints => new TranslationInput([], [endpoints], [], []),
        Listener listener => new TranslationInput(
            [.. DeathStarBench.Value.DynamicClusters.Take(20).Select(c => c.Resource)], [], [listener],
            [.. DeathStarBench.Value.DynamicRouteConfigurations.Select(r => r.Resource)]),
        RouteConfiguration routes => new TranslationInput([], [], [], [routes]),
        _ => throw new InvalidOperationException(message.Descriptor.FullName),
    };

    private static Dictionary<string, byte[][]> BuildProtobufCorpus()
    {
        var dump = DeathStarBench.Value;
        Assert.True(dump.Succeeded, string.Join("; ", dump.Errors));
        // Every listener (the RBAC filters live in them), and enough of the rest to cover each shape.
        return new Dictionary<string, byte[][]>(StringComparer.Ordinal)
        {
            [XdsTestResources.ClusterType] = [.. dump.DynamicClusters.Take(60).Select(r => r.Resource.ToByteArray())],
            [XdsTestResources.EndpointType] = [.. dump.DynamicEndpoints.Take(60).Select(r => r.Resource.ToByteArray())],
            [XdsTestResources.ListenerType] = [.. dump.DynamicListeners.Select(r => r.Resource.ToByteArray())],
            [XdsTestResources.RouteType] = [.. dump.DynamicRouteConfigurations.Select(r => r.Resource.ToByteArray())],
        };
    }

    // The full dump is 2.4 MB: each case would spend its time re-reading it. Its first few resources of each
    // kind keep every shape (RBAC listeners, EDS clusters, routes) at a size a case can afford.
    private static byte[] SmallDeathStarBenchDump()
    {
        var root = JsonNode.Parse(File.ReadAllBytes(Corpus.PathOf(Corpus.DeathStarBench)))!;
        foreach (var config in root["configs"]!.AsArray())
        {
            foreach (var (_, value) in config!.AsObject().ToList())
            {
                if (value is JsonArray array)
                {
                    while (array.Count > 6)
                    {
                        array.RemoveAt(array.Count - 1);
                    }
                }
            }
        }

        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }
}
