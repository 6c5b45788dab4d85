using System.Buffers;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Continuity;

/// <summary>
/// Keeps the refs and the mesh rules with the keeper, so that a restarted daemon serves the same policy from its
/// first call (before an xds-agent has pushed again; a ref made with <c>ax create ref</c> has no other source). The
/// refs are kept as the specs they were made from, the mesh as the updates that made it since the last replacing one.
/// </summary>
public sealed partial class ConfigKeeper : IDisposable
{
    /// <summary>The key of the refs.</summary>
    public const string RefsKey = "config/refs";

    /// <summary>The key of the mesh journal.</summary>
    public const string MeshKey = "config/mesh";

    private readonly KeeperClient _keeper;
    private readonly RefStore _refs;
    private readonly MeshStore _mesh;
    private readonly ILogger _logger;
    private int _refsDirty;
    private int _meshDirty;
    private int _writing;

    private ConfigKeeper(KeeperClient keeper, RefStore refs, MeshStore mesh, ILogger logger)
    {
        _keeper = keeper;
        _refs = refs;
        _mesh = mesh;
        _logger = logger;
    }

    /// <summary>
    /// Applies what the keeper held (<paramref name="kept"/>) to the stores, then keeps them: every later change is
    /// written to the keeper, off the caller's thread.
    /// </summary>
    public static ConfigKeeper Start(KeeperClient keeper, IReadOnlyList<KeeperFrame> kept, RefStore refs, MeshStore mesh, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(keeper);
        ArgumentNullException.ThrowIfNull(kept);
        var config = new ConfigKeeper(keeper, refs, mesh, logger);
        config.Restore(kept);
        refs.Changed += config.OnRefsChanged;
        mesh.Changed += config.OnMeshChanged;
        keeper.Reconnected += () =>
        {
            config.OnRefsChanged();
            config.OnMeshChanged();
        };
        return config;
    }

    private void Restore(IReadOnlyList<KeeperFrame> kept)
    {
        foreach (var frame in kept)
        {
            try
            {
                switch (frame.Key)
                {
                    case RefsKey:
                        var specs = ReadRefs(frame.Value!);
                        _refs.Apply(specs, []);
                        Log.RefsRestored(_logger, specs.Count);
                        break;
                    case MeshKey:
                        var journal = ReadMesh(frame.Value!);
                        foreach (var update in journal)
                        {
                            _mesh.Apply(update);
                        }
                        Log.MeshRestored(_logger, journal.Count, _mesh.Services.Count);
                        break;
                }
            }
            catch (Exception ex) when (ex is JsonException or ValidationException or ConflictException or FormatException or InvalidOperationException)
            {
                // Left by another version, or damaged: the daemon starts without it rather than not at all.
                Log.RestoreFailed(_logger, frame.Key!, ex.Message);
            }
        }
    }

    private void OnRefsChanged()
    {
        Volatile.Write(ref _refsDirty, 1);
        Schedule();
    }

    private void OnMeshChanged()
    {
        Volatile.Write(ref _meshDirty, 1);
        Schedule();
    }

    // One writer at a time, on the pool: a burst of changes makes one or two writes of the latest state.
    private void Schedule()
    {
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.Write(), this, preferLocal: false);
        }
    }

    private void Write()
    {
        try
        {
            while (true)
            {
                if (Interlocked.Exchange(ref _refsDirty, 0) == 1)
                {
                    _keeper.Put(RefsKey, WriteRefs(_refs.All));
                }
                if (Interlocked.Exchange(ref _meshDirty, 0) == 1)
                {
                    _keeper.Put(MeshKey, WriteMesh(_mesh.Journal));
                }
                Volatile.Write(ref _writing, 0);
                if ((Volatile.Read(ref _refsDirty) | Volatile.Read(ref _meshDirty)) == 0 || Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Volatile.Write(ref _writing, 0);
            Log.WriteFailed(_logger, ex.Message);
        }
    }

    internal static byte[] WriteRefs(IReadOnlyList<ServiceRef> refs) => Json(writer =>
    {
        writer.WriteStartArray();
        foreach (var reference in refs)
        {
            if (reference.Spec is not { } spec)
            {
                continue;
            }
            JsonSerializer.Serialize(writer, new CreateRefRequest
            {
                Name = spec.Name,
                Vip = spec.Vip,
                Selector = spec.Selector,
                Clients = spec.Clients,
                Dns = spec.Dns,
                Wait = spec.Wait,
                Nonblocking = spec.Nonblocking,
                Exclude = spec.Exclude,
                ProxyProtocol = spec.ProxyProtocol,
                NoUnix = spec.NoUnix ? true : null,
            }, ApiJsonContext.Relaxed.CreateRefRequest);
        }
        writer.WriteEndArray();
    });

    internal static List<RefSpec> ReadRefs(byte[] value)
    {
        var specs = new List<RefSpec>();
        using var document = JsonDocument.Parse(value);
        foreach (var element in document.RootElement.EnumerateArray())
        {
            var request = element.Deserialize(ApiJsonContext.Relaxed.CreateRefRequest) ?? throw new FormatException("a kept ref is null");
            specs.Add(new RefSpec(request.Name, request.Vip, request.Selector, request.Clients, request.Dns, request.Wait,
                request.Nonblocking, request.Exclude, request.ProxyProtocol, request.NoUnix ?? false));
        }
        return specs;
    }

    internal static byte[] WriteMesh(IReadOnlyList<MeshUpdateRequest> journal) => Json(writer =>
    {
        writer.WriteStartArray();
        foreach (var update in journal)
        {
            JsonSerializer.Serialize(writer, update, ApiJsonContext.Relaxed.MeshUpdateRequest);
        }
        writer.WriteEndArray();
    });

    internal static List<MeshUpdateRequest> ReadMesh(byte[] value)
    {
        var journal = new List<MeshUpdateRequest>();
        using var document = JsonDocument.Parse(value);
        foreach (var element in document.RootElement.EnumerateArray())
        {
            journal.Add(element.Deserialize(ApiJsonContext.Relaxed.MeshUpdateRequest) ?? throw new FormatException("a kept mesh update is null"));
        }
        return journal;
    }

    private static byte[] Json(Action<Utf8JsonWriter> write) => Interception.JsonFrames.Value(write);

    /// <inheritdoc />
    public void Dispose()
    {
        _refs.Changed -= OnRefsChanged;
        _mesh.Changed -= OnMeshChanged;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Restored {Count} refs from the keeper")]
        public static partial void RefsRestored(ILogger logger, int count);

        [LoggerMessage(2, LogLevel.Information, "Restored the mesh rules from the keeper: {Updates} updates, {Services} services")]
        public static partial void MeshRestored(ILogger logger, int updates, int services);

        [LoggerMessage(3, LogLevel.Warning, "Could not restore {Key} from the keeper: {Reason}")]
        public static partial void RestoreFailed(ILogger logger, string key, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Could not write the configuration to the keeper: {Reason}")]
        public static partial void WriteFailed(ILogger logger, string reason);
    }
}
