using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Istio.AppSwitch.Dataplane.Continuity;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Continuity across daemon restarts (docs/interception.md, "When the daemon restarts"). The keeper holds a dup of
/// every listener and what the next daemon needs to take each application over: its record, its services, and its
/// parked connects. A daemon that stops in order stops its receivers first, so no call is left half-answered, and
/// adds the address answers of its sockets; a daemon that crashes leaves the rest. The next daemon adopts it all
/// before it serves.
/// </summary>
public sealed partial class InterceptionService
{
    private const string AppsPrefix = "apps/";
    private const string RunningKey = "daemon/running";
    private readonly ConcurrentDictionary<string, byte> _servicesDirty = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _servicesSignal = new(0, 1);
    private volatile bool _suspending;
    private Task? _servicesLoop;

    private KeeperClient? Keeper => _options.Keeper;

    private void StartKeeping()
    {
        if (Keeper is not { } keeper)
        {
            return;
        }
        _handler.CallParked = KeepParked;
        _registry.ServicesChanged += OnServicesChanged;
        // Deleted by an orderly stop: found by the next daemon, it says this one crashed.
        keeper.Put(RunningKey, Json(writer => writer.WriteNumberValue(Environment.ProcessId)));
        keeper.Reconnected += () =>
        {
            // A new keeper holds nothing: everything again.
            foreach (var app in _apps.Values)
            {
                KeepApp(app);
                MarkServicesDirty(app.Record.Id);
            }
        };
        _servicesLoop = Task.Run(() => KeepServicesAsync(_stopping.Token), CancellationToken.None);
    }

    private void KeepParked(InterceptedApp app, SeccompNotification call) =>
        Keeper?.Put($"{AppsPrefix}{app.Record.Id}/held/{call.Id}", EncodeNotification(call));

    private void OnServicesChanged(string appId)
    {
        // On a trapped listen: a set entry and a semaphore, the write happens on the loop.
        MarkServicesDirty(appId);
    }

    private void MarkServicesDirty(string appId)
    {
        _servicesDirty[appId] = 0;
        if (_servicesSignal.CurrentCount == 0)
        {
            try
            {
                _servicesSignal.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private async Task KeepServicesAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                // Every JournalAfter, or sooner for services: a burst of listens makes one write per app.
                if (await _servicesSignal.WaitAsync(SyscallHandler.JournalAfter, stopping).ConfigureAwait(false))
                {
                    await Task.Delay(20, stopping).ConfigureAwait(false);
                }
                WriteDirtyServices();
                _handler.JournalLongHolds(KeepParked);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void WriteDirtyServices()
    {
        foreach (var appId in _servicesDirty.Keys)
        {
            _servicesDirty.TryRemove(appId, out _);
            if (_apps.ContainsKey(appId))
            {
                Keeper?.Put($"{AppsPrefix}{appId}/services", EncodeServices(appId));
            }
        }
    }

    private void KeepApp(InterceptedApp app)
    {
        if (Keeper is not { } keeper || app.IsDisposed)
        {
            return;
        }
        try
        {
            keeper.Put(AppsPrefix + app.Record.Id, EncodeApp(app), app.Listener);
        }
        catch (ObjectDisposedException)
        {
            // Removed meanwhile: nothing to keep.
        }
    }

    private void ForgetApp(InterceptedApp app)
    {
        if (!_suspending)
        {
            Keeper?.Delete(AppsPrefix + app.Record.Id);
        }
    }

    /// <summary>
    /// Takes over the applications a previous daemon left with the keeper. Runs before the launch socket serves, so
    /// a new launch cannot take an adopted app's id.
    /// </summary>
    private void Adopt(IReadOnlyList<KeeperFrame> kept)
    {
        var started = Stopwatch.GetTimestamp();
        var byKey = new Dictionary<string, KeeperFrame>(StringComparer.Ordinal);
        foreach (var frame in kept)
        {
            if (frame.Key!.StartsWith(AppsPrefix, StringComparison.Ordinal))
            {
                byKey[frame.Key] = frame;
            }
        }
        var adopted = 0;
        var crashed = kept.Any(f => f.Key == RunningKey);
        var parked = new List<(InterceptedApp App, SeccompNotification Call)>();
        foreach (var (key, frame) in byKey)
        {
            if (key.IndexOf('/', AppsPrefix.Length) >= 0)
            {
                continue; // a part of an app, read with it
            }
            var appId = key[AppsPrefix.Length..];
            try
            {
                var app = AdoptApp(appId, frame);
                if (app is null)
                {
                    Keeper?.Delete(key);
                    continue;
                }
                adopted++;
                if (byKey.TryGetValue($"{key}/services", out var services))
                {
                    RestoreServices(app, services.Value!);
                }
                if (byKey.TryGetValue($"{key}/sockets", out var sockets))
                {
                    RestoreSockets(app, sockets.Value!);
                    Keeper?.Delete($"{key}/sockets"); // a snapshot of one stop: stale after this daemon's own changes
                }
                foreach (var (partKey, part) in byKey)
                {
                    if (partKey.StartsWith($"{key}/held/", StringComparison.Ordinal))
                    {
                        Keeper?.Delete(partKey); // parked again, under this daemon, if still waiting
                        var call = DecodeNotification(part.Value!);
                        if (Seccomp.IsIdValid(app.Listener, call.Id))
                        {
                            parked.Add((app, call));
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or ArgumentException or Configuration.ValidationException)
            {
                Log.AdoptionFailed(_logger, appId, ex.Message);
                Keeper?.Delete(key);
            }
        }
        foreach (var frame in kept)
        {
            frame.Dispose(); // fds not taken: of entries that were not adopted
        }
        // The parked calls are taken up as if they had just arrived: the connect is decided anew (and parked again
        // while its backend is still missing).
        foreach (var (app, call) in parked)
        {
            _handler.Handle(app, in call);
        }
        Log.Adopted(_logger, adopted, parked.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (crashed && adopted > 0)
        {
            // The previous daemon died: calls it had taken and not answered wait for nobody. Off the start-up path,
            // once the receivers run, so that the restarted calls are answered at once.
            var roots = _apps.Values.Select(a => a.Record.Pid).ToArray();
            _ = Task.Run(() =>
            {
                var restarted = roots.Sum(pid => StalledCalls.Restart(pid, TimeSpan.FromSeconds(1), _handler.ExpectRestartedConnect));
                Log.StalledRestarted(_logger, restarted);
            });
        }
    }

    private InterceptedApp? AdoptApp(string appId, KeeperFrame frame)
    {
        using var fd = frame.TakeFd();
        if (fd is null || fd.IsInvalid)
        {
            return null;
        }
        var raw = (int)fd.DangerousGetHandle();
        fd.SetHandleAsInvalid();
        var listener = SafeSeccompListenerHandle.FromOwned(raw);
        if (IsOrphaned(listener))
        {
            listener.Dispose(); // the process tree ended while no daemon ran
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(frame.Value);
            var root = document.RootElement;
            var pid = root.GetProperty("pid").GetInt32();
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var label in root.GetProperty("labels").EnumerateObject())
            {
                labels[label.Name] = label.Value.GetString() ?? "";
            }
            var ports = new List<PortMapping>();
            foreach (var pair in root.GetProperty("ports").EnumerateArray())
            {
                ports.Add(new PortMapping(pair[0].GetInt32(), pair[1].GetInt32()));
            }
            var registration = new AppRegistration(
                root.GetProperty("name").GetString(),
                labels,
                root.TryGetProperty("ip", out var ip) && ip.GetString() is { } text ? IPAddress.Parse(text) : null,
                pid,
                root.GetProperty("uid").GetUInt32(),
                root.GetProperty("command").EnumerateArray().Select(a => a.GetString() ?? "").ToList(),
                root.GetProperty("netns").GetUInt64(),
                ports)
            { Id = appId };
            var record = _registry.RegisterApp(registration);
            // A role granted at launch (checked then) stays the app's across the restart.
            if (root.TryGetProperty("sidecar", out var sidecar) && sidecar.GetString() is { } role && SidecarRolesValid(role))
            {
                _delegation?.Roles.Grant(record.Id, role);
            }

            // The launched process may have exited meanwhile (its descendants keep the filter), and its pid been
            // reused: the pidfd is only taken when the start time still matches.
            SafePidFdHandle? process = null;
            var startTime = root.GetProperty("startTime").GetUInt64();
            if (ProcFs.TryGetStartTime(pid, out var now) && now == startTime)
            {
                PidFd.TryOpen(pid, out process);
            }
            var app = Follow(record, listener, process, startTime);
            if (process is null)
            {
                app.RootExited = true;
            }
            listener = null!;
            Log.AppAdopted(_logger, appId, record.Name, pid);
            return app;
        }
        finally
        {
            listener?.Dispose();
        }
    }

    private static bool SidecarRolesValid(string role) => Delegation.SidecarRoles.IsValidName(role);

    private void RestoreServices(InterceptedApp app, byte[] value)
    {
        using var document = JsonDocument.Parse(value);
        foreach (var service in document.RootElement.EnumerateArray())
        {
            var inode = service.GetProperty("inode").GetUInt64();
            var record = _registry.AddService(app.Record.Id,
                Enum.Parse<TransportProtocol>(service.GetProperty("protocol").GetString()!),
                InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(service.GetProperty("requested").GetString()!)),
                InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(service.GetProperty("bound").GetString()!)),
                inode);
            app.Listening[inode] = record.Id;
        }
    }

    private static void RestoreSockets(InterceptedApp app, byte[] value)
    {
        using var document = JsonDocument.Parse(value);
        foreach (var socket in document.RootElement.EnumerateArray())
        {
            if (socket.TryGetProperty("datagramPeers", out var pairs))
            {
                var peers = app.DatagramPeers.GetOrAdd(socket.GetProperty("inode").GetUInt64(), _ => new DatagramPeers(socket.GetProperty("domain").GetInt32()));
                foreach (var pair in pairs.EnumerateArray())
                {
                    peers.Remember(InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(pair[0].GetString()!)), InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(pair[1].GetString()!)));
                }
                continue;
            }
            var peer = socket.TryGetProperty("peer", out var p) ? InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(p.GetString()!)) : default;
            var local = socket.TryGetProperty("local", out var l) ? InetEndpoint.FromIPEndPoint(IPEndPoint.Parse(l.GetString()!)) : default;
            app.Sockets.TryAdd(socket.GetProperty("inode").GetUInt64(),
                new SocketOverride(peer, peer.Family != 0, local, local.Family != 0));
        }
    }

    /// <summary>
    /// The orderly half of a restart: receivers stop between two calls (a signal ends their wait), held UDP receives
    /// are answered <c>EINTR</c>, and the keeper gets the address answers of every socket. The listeners stay with
    /// the keeper; the applications' next calls wait in the kernel for the next daemon.
    /// </summary>
    private void Suspend()
    {
        var started = Stopwatch.GetTimestamp();
        _suspending = true;
        foreach (var app in _apps.Values)
        {
            app.StopReceiver(TimeSpan.FromSeconds(2));
        }
        var parked = _handler.TakeParked(out var interrupted);
        foreach (var (app, call) in parked)
        {
            KeepParked(app, call);
        }
        WriteDirtyServices();
        foreach (var app in _apps.Values)
        {
            if (!app.Sockets.IsEmpty || !app.DatagramPeers.IsEmpty)
            {
                Keeper?.Put($"{AppsPrefix}{app.Record.Id}/sockets", EncodeSockets(app));
            }
        }
        Keeper?.Delete(RunningKey);
        var flushed = Keeper?.Flush(TimeSpan.FromSeconds(10)) ?? true;
        Log.Suspended(_logger, _apps.Count, parked.Count, interrupted, flushed, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private byte[] EncodeApp(InterceptedApp app) => Json(writer =>
    {
        var record = app.Record;
        writer.WriteStartObject();
        writer.WriteString("name", record.Name);
        writer.WriteStartObject("labels");
        foreach (var (key, value) in app.LaunchLabels)
        {
            writer.WriteString(key, value);
        }
        writer.WriteEndObject();
        if (record.Ip is not null)
        {
            writer.WriteString("ip", record.Ip.ToString());
        }
        writer.WriteNumber("pid", record.Pid);
        writer.WriteNumber("startTime", app.StartTime);
        writer.WriteNumber("uid", record.Uid);
        writer.WriteStartArray("command");
        foreach (var argument in record.Command)
        {
            writer.WriteStringValue(argument);
        }
        writer.WriteEndArray();
        writer.WriteNumber("netns", record.NetworkNamespace);
        if (_delegation?.Roles.RoleOf(record.Id) is { } sidecar)
        {
            writer.WriteString("sidecar", sidecar);
        }
        writer.WriteStartArray("ports");
        foreach (var port in record.Ports)
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(port.Host);
            writer.WriteNumberValue(port.App);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    private byte[] EncodeServices(string appId) => Json(writer =>
    {
        writer.WriteStartArray();
        foreach (var service in _registry.Services)
        {
            if (service.AppId != appId)
            {
                continue;
            }
            writer.WriteStartObject();
            writer.WriteNumber("inode", service.SocketInode);
            writer.WriteString("protocol", service.Protocol.ToString());
            writer.WriteString("requested", service.Requested.ToString());
            writer.WriteString("bound", service.Bound.ToString());
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    });

    private static byte[] EncodeSockets(InterceptedApp app) => Json(writer =>
    {
        writer.WriteStartArray();
        // A UDP socket sent to a VIP: which backend stands for which VIP, so that replies come from the VIP.
        foreach (var (inode, peers) in app.DatagramPeers)
        {
            writer.WriteStartObject();
            writer.WriteNumber("inode", inode);
            writer.WriteNumber("domain", peers.Domain);
            writer.WriteStartArray("datagramPeers");
            foreach (var (backend, vip) in peers.Pairs)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(backend.ToString());
                writer.WriteStringValue(vip.ToString());
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        foreach (var (inode, entry) in app.Sockets)
        {
            writer.WriteStartObject();
            writer.WriteNumber("inode", inode);
            if (entry.HasPeer)
            {
                writer.WriteString("peer", entry.Peer.ToString());
            }
            if (entry.HasLocal)
            {
                writer.WriteString("local", entry.Local.ToString());
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    });

    private static byte[] EncodeNotification(SeccompNotification n) => Json(writer =>
    {
        writer.WriteStartObject();
        writer.WriteNumber("id", n.Id);
        writer.WriteNumber("pid", n.Pid);
        writer.WriteNumber("nr", n.Nr);
        writer.WriteNumber("arch", n.Arch);
        writer.WriteNumber("ip", n.InstructionPointer);
        writer.WriteStartArray("args");
        foreach (var arg in (ReadOnlySpan<ulong>)[n.Arg0, n.Arg1, n.Arg2, n.Arg3, n.Arg4, n.Arg5])
        {
            writer.WriteNumberValue(arg);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    private static SeccompNotification DecodeNotification(byte[] value)
    {
        using var document = JsonDocument.Parse(value);
        var root = document.RootElement;
        var args = root.GetProperty("args");
        if (args.GetArrayLength() != 6)
        {
            throw new FormatException("a parked call has not six arguments");
        }
        return new SeccompNotification
        {
            Id = root.GetProperty("id").GetUInt64(),
            Pid = root.GetProperty("pid").GetUInt32(),
            Nr = root.GetProperty("nr").GetInt32(),
            Arch = root.GetProperty("arch").GetUInt32(),
            InstructionPointer = root.GetProperty("ip").GetUInt64(),
            Arg0 = args[0].GetUInt64(),
            Arg1 = args[1].GetUInt64(),
            Arg2 = args[2].GetUInt64(),
            Arg3 = args[3].GetUInt64(),
            Arg4 = args[4].GetUInt64(),
            Arg5 = args[5].GetUInt64(),
        };
    }

    private static byte[] Json(Action<Utf8JsonWriter> write) => JsonFrames.Value(write);
}
