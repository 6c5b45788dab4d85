using System.Runtime.InteropServices;
using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Istio.AppSwitch.Daemon;

/// <summary>
/// The REST API, version 1 (<c>docs/api.md</c>). Handlers are static and their delegates are generated at build
/// time (the request delegate generator), and every body goes through <see cref="ApiJsonContext"/>: ax ships
/// trimmed and must not serialize by reflection.
/// </summary>
internal static class ApiEndpoints
{
    /// <summary>Installs the middleware and the endpoints.</summary>
    public static void Map(WebApplication app)
    {
        if (app.Services.GetRequiredService<DaemonOptions>().Metrics is not null)
        {
            app.UseMiddleware<MetricsEndpoint>();
        }
        app.UseMiddleware<ApiErrorMiddleware>();
        app.UseRouting();
        app.UseMiddleware<WriteAuthorizationMiddleware>();

        app.MapGet("/healthz", () => TypedResults.Json(new HealthDto { Status = "ok" }, ApiJsonContext.Relaxed.HealthDto));

        var v1 = app.MapGroup("/v1");
        v1.MapGet("/version", GetVersion);
        v1.MapGet("/apps", GetApps);
        v1.MapGet("/apps/{id}", GetApp);
        v1.MapGet("/services", GetServices);
        v1.MapGet("/refs", GetRefs);
        v1.MapGet("/refs/{name}", GetRef);
        v1.MapPost("/refs", CreateRefAsync).WithMetadata(WriteAccess.Required);
        v1.MapDelete("/refs/{name}", DeleteRef).WithMetadata(WriteAccess.Required);
        v1.MapGet("/mesh", GetMesh);
        v1.MapPost("/mesh", UpdateMeshAsync).WithMetadata(WriteAccess.Required);
        v1.MapGet("/delegation", DelegationEndpoint.GetSidecars);
        v1.MapGet("/connections", ObservabilityEndpoints.GetConnections);
        v1.MapGet("/events", ObservabilityEndpoints.StreamEventsAsync);
        v1.MapGet("/refs/{name}/describe", ObservabilityEndpoints.DescribeRef);
        v1.MapGet("/apps/{id}/describe", ObservabilityEndpoints.DescribeApp);
        v1.MapPost("/delegation", DelegationEndpoint.RegisterAsync).WithMetadata(WriteAccess.SidecarRegistration);
    }

    internal static JsonHttpResult<VersionDto> GetVersion() =>
        TypedResults.Json(
            new VersionDto { Version = DaemonHost.Version, ApiVersion = "v1", Runtime = $".NET {Environment.Version} ({RuntimeInformation.RuntimeIdentifier})" },
            ApiJsonContext.Relaxed.VersionDto);

    internal static JsonHttpResult<List<AppDto>> GetApps([FromServices] ServiceRegistry registry) =>
        TypedResults.Json(registry.Apps.Select(ApiMapper.ToDto).ToList(), ApiJsonContext.Relaxed.ListAppDto);

    internal static IResult GetApp(string id, [FromServices] ServiceRegistry registry) =>
        registry.FindApp(id) is { } app
            ? TypedResults.Json(ApiMapper.ToDto(app), ApiJsonContext.Relaxed.AppDto)
            : ApiErrors.Result(StatusCodes.Status404NotFound, ApiErrorCodes.NotFound, $"app \"{id}\" not found", "id");

    internal static JsonHttpResult<List<ServiceDto>> GetServices([FromServices] ServiceRegistry registry) =>
        TypedResults.Json(registry.Services.Select(ApiMapper.ToDto).ToList(), ApiJsonContext.Relaxed.ListServiceDto);

    internal static JsonHttpResult<List<RefDto>> GetRefs([FromServices] RefStore refs, [FromServices] RoutingTable routing,
        [FromServices] HeldConnects held, [FromServices] TimeProvider time)
    {
        var snapshot = routing.Current;
        var holding = held.ByRef();
        var now = time.GetUtcNow();
        return TypedResults.Json(
            refs.All.Select(r => ApiMapper.ToDto(r, snapshot.CountBackends(r), holding.GetValueOrDefault(r.Name), now)).ToList(),
            ApiJsonContext.Relaxed.ListRefDto);
    }

    internal static IResult GetRef(string name, [FromServices] RefStore refs, [FromServices] RoutingTable routing,
        [FromServices] HeldConnects held, [FromServices] TimeProvider time) =>
        refs.Find(name) is { } found
            ? TypedResults.Json(
                ApiMapper.ToDto(found, routing.Current.CountBackends(found), held.ByRef().GetValueOrDefault(found.Name), time.GetUtcNow()),
                ApiJsonContext.Relaxed.RefDto)
            : ApiErrors.Result(StatusCodes.Status404NotFound, ApiErrorCodes.NotFound, $"ref \"{name}\" not found", "name");

    internal static async Task<IResult> CreateRefAsync(HttpRequest request, [FromServices] RefStore refs, [FromServices] RoutingTable routing,
        [FromServices] Dataplane.Observability.DataplaneTelemetry telemetry)
    {
        var (spec, error) = await CreateRefRequestReader.ReadAsync(request).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }
        try
        {
            var created = refs.Create(spec!);
            if (telemetry.Events.IsActive)
            {
                telemetry.Events.Publish(new EventDto { Time = telemetry.Now, Type = "ref-created", Ref = created.Name, Destination = created.Vip.ToString() });
            }
            request.HttpContext.Response.Headers.Location = $"/v1/refs/{Uri.EscapeDataString(created.Name)}";
            return TypedResults.Json(
                ApiMapper.ToDto(created, routing.Current.CountBackends(created)),
                ApiJsonContext.Relaxed.RefDto,
                statusCode: StatusCodes.Status201Created);
        }
        catch (ValidationException e)
        {
            return ApiErrors.Validation(e);
        }
        catch (ConflictException e)
        {
            return ApiErrors.Result(StatusCodes.Status409Conflict, ApiErrorCodes.AlreadyExists, e.Message, e.Field);
        }
    }

    internal static IResult DeleteRef(string name, [FromServices] RefStore refs, [FromServices] Dataplane.Observability.DataplaneTelemetry telemetry)
    {
        if (!refs.Delete(name))
        {
            return ApiErrors.Result(StatusCodes.Status404NotFound, ApiErrorCodes.NotFound, $"ref \"{name}\" not found", "name");
        }
        telemetry.ForgetRef(name);
        if (telemetry.Events.IsActive)
        {
            telemetry.Events.Publish(new EventDto { Time = telemetry.Now, Type = "ref-deleted", Ref = name });
        }
        return TypedResults.NoContent();
    }

    internal static JsonHttpResult<MeshStateDto> GetMesh([FromServices] MeshStore mesh) =>
        TypedResults.Json(mesh.Describe(), ApiJsonContext.Relaxed.MeshStateDto);

    /// <summary>Publishes a mesh-applied event (an xds-agent's push, over the API or in-process).</summary>
    internal static void MeshApplied(Dataplane.Observability.DataplaneTelemetry telemetry, MeshUpdateResponse applied)
    {
        if (telemetry.Events.IsActive)
        {
            telemetry.Events.Publish(new EventDto
            {
                Time = telemetry.Now,
                Type = "mesh-applied",
                Version = applied.Version,
                Message = $"{applied.Services} services, {applied.Clusters} clusters",
            });
        }
    }

    internal static async Task<IResult> UpdateMeshAsync(HttpRequest request, [FromServices] MeshStore mesh, [FromServices] DaemonOptions options)
    {
        var (update, error) = await MeshRequestReader.ReadAsync(request, options.MaxMeshRequestBodyBytes).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }
        try
        {
            var applied = mesh.Apply(update!);
            var telemetry = request.HttpContext.RequestServices.GetRequiredService<Dataplane.Observability.DataplaneTelemetry>();
            // A deleted mesh service's series go too, as a deleted ref's do (docs/metrics.md).
            var services = mesh.Services;
            telemetry.ForgetRefs(name => name.StartsWith("mesh/", StringComparison.Ordinal) && !services.ContainsKey(name["mesh/".Length..]));
            MeshApplied(telemetry, applied);
            return TypedResults.Json(applied, ApiJsonContext.Relaxed.MeshUpdateResponse);
        }
        catch (ValidationException e)
        {
            return ApiErrors.Validation(e);
        }
    }
}
