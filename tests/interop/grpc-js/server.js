'use strict';
// The Echo service of proto/ax/testing/v1/echo.proto on @grpc/grpc-js, with the behaviour of the C# EchoService
// in tests/Tests.Common/Grpc: wait delay_ms (cut short when the call is cancelled), copy the requested metadata
// into the response, and end the call with fail_with when its code is not zero.
// Listens on 127.0.0.1 on a port the system picks and prints that port as its first line of output.

const { grpc, EchoService, exitWithParent } = require('./echo.js');

function answer(call, request, sequence) {
  const metadata = [];
  for (const key of request.echo_metadata) {
    for (const value of call.metadata.get(key)) {
      metadata.push(`${key}=${Buffer.isBuffer(value) ? value.toString('base64') : value}`);
    }
  }
  return { message: request.message, metadata, sequence };
}

function failure(request) {
  const status = request.fail_with;
  return status && status.code !== 0 ? { code: status.code, details: status.message } : null;
}

function delay(call, milliseconds) {
  return new Promise((resolve) => {
    if (milliseconds <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, milliseconds);
    call.on('cancelled', () => clearTimeout(timer));
  });
}

function echo(call, callback) {
  const request = call.request;
  delay(call, request.delay_ms).then(() => {
    if (call.cancelled) {
      return;
    }
    const error = failure(request);
    if (error) {
      callback(error);
    } else {
      callback(null, answer(call, request, 1));
    }
  });
}

function echoStream(call) {
  let sequence = 0;
  let failed = false;
  let pending = Promise.resolve();
  call.on('data', (request) => {
    sequence += 1;
    const current = sequence;
    // Answer strictly in order, even when a request waits.
    pending = pending.then(() => delay(call, request.delay_ms)).then(() => {
      if (failed || call.cancelled) {
        return;
      }
      const error = failure(request);
      if (error) {
        failed = true;
        call.emit('error', error);
      } else {
        call.write(answer(call, request, current));
      }
    });
  });
  call.on('end', () => {
    pending.then(() => {
      if (!failed && !call.cancelled) {
        call.end();
      }
    });
  });
  call.on('error', () => {});
}

const server = new grpc.Server();
server.addService(EchoService.service, { Echo: echo, EchoStream: echoStream });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  console.log(port);
});
exitWithParent();
