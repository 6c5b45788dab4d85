using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Resources.Decoding;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Ads;

/// <summary>
/// <c>DeltaAggregatedResources</c>: subscriptions change by <c>resource_names_subscribe</c> and
/// <c>resource_names_unsubscribe</c>, responses carry changed resources (each with its own version) and removed
/// names, and a new stream tells the server what the client has through <c>initial_resource_versions</c>.
/// </summary>
internal sealed class DeltaAdsStream(XdsResourceCache cache, Node node, ILogger logger)
    : AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(cache, node, logger)
{
    protected override void SetNode(DeltaDiscoveryRequest request, Node node) => request.Node = node;

    protected override DeltaDiscoveryRequest BuildSubscription(
        string typeUrl, ImmutableSortedSet<string> names, ImmutableSortedSet<string> previous, bool initial, XdsSnapshot snapshot)
    {
        var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl };
        if (initial)
        {
            // A wildcard type sends no names (the legacy wildcard, which Istio and Envoy both use). Versions are
            // sent for what is still wanted, so the server resends only what changed while the stream was down.
            request.ResourceNamesSubscribe.AddRange(names);
            foreach (var (name, resource) in snapshot[typeUrl].Resources)
            {
                if (XdsTypeUrls.IsWildcard(typeUrl) || names.Contains(name))
                {
                    request.InitialResourceVersions[name] = resource.Version;
                }
            }
        }
        else
        {
            request.ResourceNamesSubscribe.AddRange(names.Except(previous));
            request.ResourceNamesUnsubscribe.AddRange(previous.Except(names));
        }

        return request;
    }

    protected override async Task HandleResponseAsync(DeltaDiscoveryResponse response, CancellationToken cancellationToken)
    {
        var typeUrl = response.TypeUrl;
        var decoder = XdsDecoders.For(typeUrl);
        if (decoder is null)
        {
            AdsLog.UnknownType(Logger, typeUrl);
            return;
        }

        var state = StateOf(typeUrl);
        state.Nonce = response.Nonce;
        Cache.Statistics.Pushed(typeUrl);
        var result = decoder.Decode(response.Resources.Select(r => (r.Resource_, r.Version, (string?)r.Name)));
        var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResponseNonce = response.Nonce };
        if (!result.IsValid)
        {
            request.ErrorDetail = ErrorDetail(typeUrl, response.Resources.Count, result.Errors);
            AdsLog.Nacked(Logger, XdsTypeUrls.ShortName(typeUrl), response.Nonce, Cache.Current[typeUrl].Version, request.ErrorDetail.Message);
            await SendAsync(request, cancellationToken).ConfigureAwait(false);
            Cache.ReportAmbientError(new XdsAmbientError(XdsAmbientErrorKind.Nack, typeUrl, request.ErrorDetail.Message));
            Cache.Statistics.Answered(typeUrl, acked: false, Cache.Current[typeUrl].Version, request.ErrorDetail.Message);
        }
        else
        {
            var wildcard = XdsTypeUrls.IsWildcard(typeUrl);
            var accepted = wildcard ? result.Resources : result.Resources.Where(r => state.Names.Contains(r.Name)).ToList();
            Cache.Apply(typeUrl, response.SystemVersionInfo, accepted, response.RemovedResources, replaceAll: false);
            AdsLog.Acked(Logger, XdsTypeUrls.ShortName(typeUrl), response.SystemVersionInfo, response.Nonce, accepted.Count);
            await SendAsync(request, cancellationToken).ConfigureAwait(false);
            Cache.Statistics.Answered(typeUrl, acked: true, response.SystemVersionInfo, null);
        }

        await AfterResponseAsync(typeUrl, cancellationToken).ConfigureAwait(false);
    }
}
