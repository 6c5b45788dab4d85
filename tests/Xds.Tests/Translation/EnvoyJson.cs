using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Istio.AppSwitch.Xds.Resources;
using YamlDotNet.RepresentationModel;

namespace Istio.AppSwitch.Xds.Tests.Translation;

/// <summary>Builds Envoy protos for tests from proto3 JSON or from the YAML istiod's golden files use.</summary>
internal static class EnvoyJson
{
    private static readonly JsonParser Parser = new(new JsonParser.Settings(256, EnvoyTypeRegistry.Registry));

    /// <summary>Parses proto3 JSON (snake_case or camelCase names) into <typeparamref name="T"/>.</summary>
    public static T Parse<T>(string json)
        where T : IMessage<T>, new() => Parser.Parse<T>(json);

    /// <summary>Parses YAML into <typeparamref name="T"/> through JSON.</summary>
    public static T ParseYaml<T>(string yaml)
        where T : IMessage<T>, new() => Parse<T>(YamlToJson(yaml));

    /// <summary>The YAML document as JSON text; plain scalars become booleans and numbers where they look like them.</summary>
    public static string YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode)?.ToJsonString() ?? "null";
    }

    private static JsonNode? Convert(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    obj[((YamlScalarNode)key).Value!] = Convert(value);
                }
                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item));
                }
                return array;
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (scalar.Style != YamlDotNet.Core.ScalarStyle.Plain)
                {
                    return JsonValue.Create(text);
                }
                if (text is "true" or "false")
                {
                    return JsonValue.Create(text == "true");
                }
                if (text is "null" or "~" or "")
                {
                    return null;
                }
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
                {
                    return JsonValue.Create(number);
                }
                return JsonValue.Create(text);
            default:
                throw new InvalidOperationException($"unexpected YAML node {node.NodeType}");
        }
    }
}
