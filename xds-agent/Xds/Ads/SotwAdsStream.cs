using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Istio.AppSwitch.Xds.Client;
using Istio.AppSwitch.Xds.Resources;
using Istio.AppSwitch.Xds.Resources.Decoding;
using Microsoft.Extensions.Logging;

namespace Istio.AppSwitch.Xds.Ads;

/// <summary>
/// <c>StreamAggregatedResources</c>: every request carries the type's full name list and the last ACKed
/// <c>version_info</c>; every response is the full set of a wildcard type (CDS, LDS) or the named resources it
/// carries (EDS, RDS, whose absence from a response means nothing, per the xDS spec).
/// </summary>
internal sealed class SotwAdsStream(XdsResourceCache cache, Node node, ILogger logger)
    : AdsStream<DiscoveryRequest, DiscoveryResponse>(cache, node, logger)
{
    protected override void SetNode(DiscoveryRequest request, Node node) => request.Node = node;

    protected override DiscoveryRequest BuildSubscription(
        string typeUrl, ImmutableSortedSet<string> names, ImmutableSortedSet<string> previous, bool initial, XdsSnapshot snapshot)
    {
        // A first request on a new stream has no nonce but does carry the known version, so the server can skip
        // resending what the client has (what Envoy does on reconnect).
        var request = new DiscoveryRequest
        {
            TypeUrl = typeUrl,
            VersionInfo = snapshot[typeUrl].Version,
            ResponseNonce = StateOf(typeUrl).Nonce,
        };
        request.ResourceNames.AddRange(names);
        return request;
    }

    protected override async Task HandleResponseAsync(DiscoveryResponse response, CancellationToken cancellationToken)
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
        var result = decoder.Decode(response.Resources.Select(any => (any, response.VersionInfo, (string?)null)));
        var request = new DiscoveryRequest { TypeUrl = typeUrl, ResponseNonce = response.Nonce };
        request.ResourceNames.AddRange(state.Names);
        if (!result.IsValid)
        {
            // The nonce advances, the version does not: the NACK names the last version that was good.
            var lastGood = Cache.Current[typeUrl].Version;
            request.VersionInfo = lastGood;
            request.ErrorDetail = ErrorDetail(typeUrl, response.Resources.Count, result.Errors);
            AdsLog.Nacked(Logger, XdsTypeUrls.ShortName(typeUrl), response.Nonce, lastGood, request.ErrorDetail.Message);
            await SendAsync(request, cancellationToken).ConfigureAwait(false);
            Cache.ReportAmbientError(new XdsAmbientError(XdsAmbientErrorKind.Nack, typeUrl, request.ErrorDetail.Message));
            Cache.Statistics.Answered(typeUrl, acked: false, Cache.Current[typeUrl].Version, request.ErrorDetail.Message);
        }
        else
        {
            var wildcard = XdsTypeUrls.IsWildcard(typeUrl);

            // A named type takes only what it asked for: a server may still send a name just unsubscribed.
            var accepted = wildcard ? result.Resources : result.Resources.Where(r => state.Names.Contains(r.Name)).ToList();
            Cache.Apply(typeUrl, response.VersionInfo, accepted, [], replaceAll: wildcard);
            request.VersionInfo = response.VersionInfo;
            AdsLog.Acked(Logger, XdsTypeUrls.ShortName(typeUrl), response.VersionInfo, response.Nonce, accepted.Count);
            await SendAsync(request, cancellationToken).ConfigureAwait(false);
            Cache.Statistics.Answered(typeUrl, acked: true, response.VersionInfo, null);
        }

        await AfterResponseAsync(typeUrl, cancellationToken).ConfigureAwait(false);
    }
}
