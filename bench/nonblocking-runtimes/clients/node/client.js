// node client for the ax nonblocking-connect study.
// usage: node client.js VARIANT HOST PORT
//   net-connect          net.connect(port, host)                     (no timeout)
//   net-connect-timeout  net.connect({port, host, timeout: 2000}); on 'timeout' destroy
//   http-get             http.get(url)                               (no timeout)
//   http-get-timeout     http.get(url, {timeout: 2000}); on 'timeout' destroy
'use strict';
const net = require('net');
const http = require('http');
const [variant, host, portS] = process.argv.slice(2);
const port = Number(portS);
console.log('START');
const start = process.hrtime.bigint();
const el = () => (Number(process.hrtime.bigint() - start) / 1e9).toFixed(3);
let finished = false;
function done(outcome, detail) {
  if (finished) return;
  finished = true;
  console.log(`RESULT outcome=${outcome} elapsed=${el()}s detail=${JSON.stringify(detail)}`);
  process.exit(outcome === 'OK' ? 0 : 1);
}
if (variant.startsWith('net-connect')) {
  const opts = { port, host };
  if (variant === 'net-connect-timeout') opts.timeout = 2000;
  const s = net.connect(opts);
  let connectedAt = null;
  let buf = '';
  s.on('connect', () => { connectedAt = el(); s.write('GET / HTTP/1.0\r\nHost: study\r\n\r\n'); });
  s.on('data', d => { buf += d; const i = buf.indexOf('\n'); if (i >= 0) done('OK', `connected at ${connectedAt}s; ${buf.slice(0, i).trim()}`); });
  s.on('timeout', () => { s.destroy(new Error(`socket 'timeout' event (socket.timeout=${s.timeout}) at ${el()}s`)); });
  s.on('error', e => done('ERR', `${e.code || ''} ${e.message}` + (connectedAt ? ` (connected at ${connectedAt}s)` : '')));
  s.on('close', () => done('ERR', 'closed before a response'));
} else if (variant.startsWith('http-get')) {
  const opts = variant === 'http-get-timeout' ? { timeout: 2000 } : {};
  const req = http.get(`http://${host}:${port}/`, opts, res => { res.resume(); done('OK', `HTTP ${res.statusCode}`); });
  req.on('timeout', () => req.destroy(new Error(`request 'timeout' event (option timeout=${opts.timeout}, socket.timeout=${req.socket && req.socket.timeout}) at ${el()}s`)));
  req.on('error', e => done('ERR', `${e.code || ''} ${e.message}`));
} else {
  done('ERR', 'unknown variant ' + variant);
}
