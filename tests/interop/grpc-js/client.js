'use strict';
// Checks a gRPC Echo server (usage: node client.js 127.0.0.1:PORT) with @grpc/grpc-js as the client: unary,
// metadata, bidirectional streaming, error statuses (trailers-only and after messages) and a deadline.
// Prints one line per check and exits non-zero at the first mismatch.

const assert = require('node:assert/strict');
const { grpc, EchoService } = require('./echo.js');

const address = process.argv[2];
if (!address) {
  console.error('usage: node client.js HOST:PORT');
  process.exit(2);
}

const client = new EchoService(address, grpc.credentials.createInsecure());

function unary(request, options = {}) {
  const metadata = options.metadata ?? new grpc.Metadata();
  const callOptions = options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {};
  return new Promise((resolve) => {
    client.Echo(request, metadata, callOptions, (error, response) => resolve({ error, response }));
  });
}

// Writes the requests one at a time, each after the previous answer (proving the server is full duplex), then
// half-closes; resolves with the responses and the final status.
function stream(requests) {
  return new Promise((resolve) => {
    const call = client.EchoStream();
    const responses = [];
    let error = null;
    let next = 0;
    const writeNext = () => {
      if (next < requests.length) {
        call.write(requests[next++]);
      } else {
        call.end();
      }
    };
    call.on('data', (response) => {
      responses.push(response);
      writeNext();
    });
    call.on('error', (e) => { error = e; });
    call.on('status', (status) => resolve({ responses, error, status }));
    writeNext();
  });
}

const detail = 'nicht gefunden: café ☕ 100% /path?x=1';

const checks = [
  ['unary', async () => {
    const { error, response } = await unary({ message: 'hello' });
    assert.equal(error, null);
    assert.equal(response.message, 'hello');
    assert.equal(response.sequence, 1);
  }],
  ['metadata', async () => {
    const metadata = new grpc.Metadata();
    metadata.add('authorization', 'Bearer interop-token');
    metadata.add('x-trace-bin', Buffer.from([0, 1, 2, 254, 255]));
    const { error, response } = await unary(
      { message: 'm', echo_metadata: ['authorization', 'x-trace-bin'] }, { metadata });
    assert.equal(error, null);
    assert.deepEqual(response.metadata, ['authorization=Bearer interop-token', 'x-trace-bin=AAEC/v8=']);
  }],
  ['bidi', async () => {
    const { responses, error, status } = await stream([{ message: 'a' }, { message: 'b' }, { message: 'c' }]);
    assert.equal(error, null);
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(responses.map((r) => [r.message, r.sequence]), [['a', 1], ['b', 2], ['c', 3]]);
  }],
  ['error (trailers-only)', async () => {
    const { error } = await unary({ message: 'x', fail_with: { code: grpc.status.NOT_FOUND, message: detail } });
    assert.equal(error?.code, grpc.status.NOT_FOUND);
    assert.equal(error.details, detail);
  }],
  ['error after messages', async () => {
    const { responses, error } = await stream([
      { message: 'ok' },
      { message: 'no', fail_with: { code: grpc.status.FAILED_PRECONDITION, message: 'stop here' } },
    ]);
    assert.deepEqual(responses.map((r) => r.message), ['ok']);
    assert.equal(error?.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(error.details, 'stop here');
  }],
  ['unimplemented', async () => {
    const { error } = await new Promise((resolve) => {
      client.makeUnaryRequest('/ax.testing.v1.EchoService/Missing', (x) => x, (x) => x, Buffer.alloc(0),
        (e, r) => resolve({ error: e, response: r }));
    });
    assert.equal(error?.code, grpc.status.UNIMPLEMENTED);
  }],
  ['deadline', async () => {
    const { error } = await unary({ message: 'slow', delay_ms: 5000 }, { deadlineMs: 200 });
    assert.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
  }],
];

(async () => {
  for (const [name, check] of checks) {
    try {
      await check();
      console.log(`ok ${name}`);
    } catch (error) {
      console.log(`FAILED ${name}: ${error.message}`);
      process.exit(1);
    }
  }
  client.close();
  process.exit(0);
})();
