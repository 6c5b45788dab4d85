'use strict';
// What server.js and client.js share: the Echo service definition, loaded from the repository's proto files.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const repositoryRoot = path.resolve(__dirname, '..', '..', '..');

const definition = protoLoader.loadSync('testing/v1/echo.proto', {
  // google/rpc/status.proto comes from the vendored Envoy closure (dotnet build proto/Envoy.Api.Protos.csproj).
  includeDirs: [
    path.join(repositoryRoot, 'proto', 'ax'),
    path.join(repositoryRoot, 'proto', 'vendor', 'envoy-protos'),
  ],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

const { EchoService } = grpc.loadPackageDefinition(definition).ax.testing.v1;

// Exit when the parent closes stdin, so a test host that dies does not leave this process behind.
function exitWithParent() {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

module.exports = { grpc, EchoService, exitWithParent };
