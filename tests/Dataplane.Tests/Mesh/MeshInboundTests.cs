using System.Text.Json;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Dataplane.Tests.Mesh;

/// <summary>The inbound half of the mesh rules: <see cref="MeshInboundValidator"/>, and <see cref="MeshStore.FindInbound"/>.</summary>
public sealed class MeshInboundTests
{
    private const string DenyThree = """
        {"engines": [{"action": "deny", "policies": [{"name": "deny-3", "permissions": [{"any": true}], "principals": [{"sourceIp": "127.0.0.3/32"}]}]}]}
        """;

    private readonly TestWorld _world = new();
    private readonly MeshStore _mesh;

    public MeshInboundTests()
    {
        _mesh = new MeshStore(_world.Routing);
    }

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static MeshInboundPortDto Port(string key, string selector, int port, string? rbac = DenyThree, string? mode = null) => new()
    {
        Key = key,
        Selector = selector,
        Port = port,
        Mode = mode,
        Rbac = rbac is null ? null : Json(rbac),
    };

    [Fact]
    public void Validate_GoodBatch_BuildsPoliciesWithTheirRbac()
    {
        var update = MeshInboundValidator.Validate(new MeshUpdateRequest
        {
            Inbound = [Port("node:8080", "app=web", 8080), Port("node:0", "app=web", 0, rbac: null, mode: "passthrough")],
            DeleteInbound = ["node:9090"],
        });

        Assert.Equal(2, update.Upserts.Count);
        var web = update.Upserts[0];
        Assert.Equal((ushort)8080, web.Port);
        Assert.Equal(MeshMode.Fast, web.Mode);
        Assert.False(web.AllowsAll);
        Assert.Equal(RbacAction.Deny, Assert.Single(web.Rbac.Engines).Action);
        Assert.True(update.Upserts[1].AllowsAll);
        Assert.Same(RbacModel.None, update.Upserts[1].Rbac);
        Assert.Equal(["node:9090"], update.Deletes);
    }

    [Fact]
    public void Validate_BadFields_EveryProblemWithItsPath()
    {
        var error = Assert.Throws<ValidationException>(() => MeshInboundValidator.Validate(new MeshUpdateRequest
        {
            Inbound =
            [
                Port("", "app=web", 8080),
                Port("k1", "", 70000, mode: "fastest"),
                Port("k2", "app=web", 80, rbac: """{"engines": [{"action": "allow", "policies": [{"name": "p", "permissions": [{"any": true}], "principals": [{"or": [{"sourceIp": "nope"}]}]}]}]}"""),
                Port("k3", "app=web", 81, rbac: "{\"engines\": 3}"),
                Port("k5", "app=web", 83),
                Port("k5", "app=web", 84),
                Port("k4", "app=web", 83),
            ],
            DeleteInbound = ["k4", ""],
        }));

        var fields = error.Errors.Select(e => e.Field).ToArray();
        Assert.Equal(
            [
                "inbound[0].key",
                "inbound[1].selector", "inbound[1].port", "inbound[1].mode",
                "inbound[2].rbac.engines[0].policies[0].principals[0].or[0].sourceIp",
                "inbound[3].rbac.engines",
                "inbound[5].key",
                "inbound[6].port",
                "deleteInbound[0]", "deleteInbound[1]",
            ],
            fields);
        Assert.Contains(error.Errors, e => e.Message.StartsWith("inbound[2].rbac.engines[0].policies[0].principals[0].or[0].sourceIp: must be a CIDR", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_InboundAndServiceErrors_OneExceptionAndNothingChanges()
    {
        _mesh.Apply(new MeshUpdateRequest { Inbound = [Port("keep", "app=web", 8080)] });

        var error = Assert.Throws<ValidationException>(() => _mesh.Apply(new MeshUpdateRequest
        {
            Services = [new MeshServiceDto { Key = "s", Vip = "not-a-vip" }],
            Inbound = [Port("new", "app=web", 9090, rbac: "[]")],
        }));

        Assert.Contains(error.Errors, e => e.Field.StartsWith("services[0]", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Field == "inbound[0].rbac");
        Assert.Equal(["keep"], _mesh.Inbound.Keys);
    }

    [Fact]
    public void FindInbound_SelectorAndPort_ExactPortBeatsCatchAll()
    {
        _mesh.Apply(new MeshUpdateRequest
        {
            Inbound =
            [
                Port("web:8080", "app=web", 8080),
                Port("web:0", "app=web", 0, mode: "blackhole"),
                Port("db:5432", "app=db,tier=data", 5432),
            ],
        });
        var web = _world.App("web", "app=web,version=v1");
        var db = _world.App("db", "app=db,tier=data");
        var other = _world.App("other", "app=other");

        Assert.Equal("web:8080", _mesh.FindInbound(web, 8080)!.Key);
        Assert.Equal("web:0", _mesh.FindInbound(web, 9999)!.Key);
        Assert.Equal("db:5432", _mesh.FindInbound(db, 5432)!.Key);
        Assert.Null(_mesh.FindInbound(db, 8080));
        Assert.Null(_mesh.FindInbound(other, 8080));
        Assert.True(_mesh.HasInboundFor(web));
        Assert.False(_mesh.HasInboundFor(other));
    }

    [Fact]
    public void Apply_DeleteAndReplace_SwapTheTable()
    {
        _mesh.Apply(new MeshUpdateRequest { Inbound = [Port("a", "app=web", 1000), Port("b", "app=web", 2000)] });
        var web = _world.App("web", "app=web");

        _mesh.Apply(new MeshUpdateRequest { DeleteInbound = ["a"] });
        Assert.Null(_mesh.FindInbound(web, 1000));
        Assert.NotNull(_mesh.FindInbound(web, 2000));

        _mesh.Apply(new MeshUpdateRequest { Replace = true, Inbound = [Port("c", "app=web", 3000)] });
        Assert.Equal(["c"], _mesh.Inbound.Keys);
        Assert.Null(_mesh.FindInbound(web, 2000));

        _mesh.Apply(new MeshUpdateRequest { Replace = true });
        Assert.False(_mesh.HasInboundFor(web));
    }

    [Fact]
    public void Describe_InboundPorts_WithRbacInItsJsonForm()
    {
        _mesh.Apply(new MeshUpdateRequest { Inbound = [Port("web:8080", "app=web", 8080), Port("web:0", "app=web", 0, rbac: null, mode: "chain")] });

        var state = _mesh.Describe();

        Assert.NotNull(state.Inbound);
        Assert.Equal(["web:0", "web:8080"], state.Inbound.Select(i => i.Key!).ToArray());
        Assert.Equal("chain", state.Inbound[0].Mode);
        Assert.Null(state.Inbound[0].Rbac);
        var rbac = RbacJson.Read(state.Inbound[1].Rbac!.Value);
        Assert.True(rbac.SameAs(RbacJson.Read(Json(DenyThree))));
    }

    [Fact]
    public void FindInbound_NoAllocation()
    {
        _mesh.Apply(new MeshUpdateRequest { Inbound = [Port("web:8080", "app=web", 8080), Port("web:0", "app=web", 0)] });
        var web = _world.App("web", "app=web");
        _mesh.FindInbound(web, 8080);
        _mesh.HasInboundFor(web);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            _mesh.FindInbound(web, 8080);
            _mesh.FindInbound(web, 7);
            _mesh.HasInboundFor(web);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
