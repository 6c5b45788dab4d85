'use strict';
// An ADS management server on @grpc/grpc-js, loaded with the real Envoy protos (proto/vendor/envoy-protos, made by
// `dotnet build proto/Envoy.Api.Protos.csproj`): an xDS implementation independent of ax's, to check ax's ADS client
// against. It serves both StreamAggregatedResources (SotW) and DeltaAggregatedResources with a fixed push: the first
// request for a type on a stream gets one response; every other request (ACK, NACK) gets none.
// Listens on 127.0.0.1, prints its port as the first line, then one JSON line per request received ({"received"})
// and per response sent ({"sent"}), so a test can match every ACK to its nonce.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const repositoryRoot = path.resolve(__dirname, '..', '..', '..');
const definition = protoLoader.loadSync(
  [
    'envoy/service/discovery/v3/ads.proto',
    'envoy/config/cluster/v3/cluster.proto',
    'envoy/config/endpoint/v3/endpoint.proto',
    'envoy/config/listener/v3/listener.proto',
    'envoy/config/route/v3/route.proto',
    'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  ],
  {
    includeDirs: [path.join(repositoryRoot, 'proto', 'vendor', 'envoy-protos')],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
const ads = grpc.loadPackageDefinition(definition).envoy.service.discovery.v3.AggregatedDiscoveryService;

const prefix = 'type.googleapis.com/';
const CDS = prefix + 'envoy.config.cluster.v3.Cluster';
const EDS = prefix + 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const LDS = prefix + 'envoy.config.listener.v3.Listener';
const RDS = prefix + 'envoy.config.route.v3.RouteConfiguration';
const reviews = 'outbound|9080||reviews.default.svc.cluster.local';

// Resources as protobufjs objects: '@type' makes its Any wrapper encode them (nested Anys too).
const ads_source = { ads: {}, resource_api_version: 'V3' };
const resources = {
  [CDS]: [
    { '@type': CDS, name: reviews, type: 'EDS', eds_cluster_config: { service_name: reviews, eds_config: ads_source },
      connect_timeout: { seconds: 10 } },
    { '@type': CDS, name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' },
  ],
  [EDS]: [
    { '@type': EDS, cluster_name: reviews, endpoints: [{ lb_endpoints: [
      { endpoint: { address: { socket_address: { address: '127.0.0.10', port_value: 9080 } } } }] }] },
  ],
  [LDS]: [
    { '@type': LDS, name: '0.0.0.0_9080', address: { socket_address: { address: '127.0.0.1', port_value: 9080 } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
        '@type': prefix + 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'outbound_0.0.0.0_9080', rds: { route_config_name: '9080', config_source: ads_source } } }] }] },
    { '@type': LDS, name: '127.96.0.1_3306', address: { socket_address: { address: '127.96.0.1', port_value: 3306 } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: {
        '@type': prefix + 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
        stat_prefix: 'PassthroughCluster', cluster: 'PassthroughCluster' } }] }] },
  ],
  [RDS]: [
    { '@type': RDS, name: '9080', virtual_hosts: [{ name: 'reviews:9080', domains: ['reviews'],
      routes: [{ match: { prefix: '/' }, route: { cluster: reviews } }] }] },
  ],
};

const nameOf = (resource) => resource.name || resource.cluster_name;
let nonce = 0;
let streams = 0;

function log(entry) {
  process.stdout.write(JSON.stringify(entry) + '\n');
}

function streamAggregatedResources(call) {
  const stream = ++streams;
  const answered = new Set();
  call.on('data', (request) => {
    log({ received: { stream, method: 'sotw', request } });
    if (answered.has(request.type_url) || !resources[request.type_url]) {
      return;
    }
    answered.add(request.type_url);
    const wanted = request.resource_names || [];
    const response = {
      type_url: request.type_url,
      version_info: 'v1',
      nonce: `js-${++nonce}`,
      resources: resources[request.type_url].filter((r) => wanted.length === 0 || wanted.includes(nameOf(r))),
    };
    log({ sent: { stream, method: 'sotw', type_url: response.type_url, version_info: response.version_info, nonce: response.nonce } });
    call.write(response);
  });
  call.on('end', () => call.end());
  call.on('error', () => {});
}

function deltaAggregatedResources(call) {
  const stream = ++streams;
  const answered = new Set();
  call.on('data', (request) => {
    log({ received: { stream, method: 'delta', request } });
    if (answered.has(request.type_url) || !resources[request.type_url] || request.response_nonce) {
      return;
    }
    answered.add(request.type_url);
    const wanted = request.resource_names_subscribe || [];
    const response = {
      type_url: request.type_url,
      system_version_info: 'v1',
      nonce: `js-${++nonce}`,
      resources: resources[request.type_url]
        .filter((r) => wanted.length === 0 || wanted.includes(nameOf(r)))
        .map((r) => ({ name: nameOf(r), version: '1', resource: r })),
    };
    log({ sent: { stream, method: 'delta', type_url: response.type_url, system_version_info: response.system_version_info, nonce: response.nonce } });
    call.write(response);
  });
  call.on('end', () => call.end());
  call.on('error', () => {});
}

const server = new grpc.Server();
server.addService(ads.service, {
  StreamAggregatedResources: streamAggregatedResources,
  DeltaAggregatedResources: deltaAggregatedResources,
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    process.stderr.write(`${error}\n`);
    process.exit(1);
  }
  process.stdout.write(`${port}\n`);
});

// Exit when the parent closes stdin, so a test host that dies does not leave this process behind.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
