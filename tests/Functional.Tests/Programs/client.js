// A nonblocking (libuv/epoll) client: node's net.connect. Usage: node client.js HOST PORT MESSAGE
const net = require('net');
const [host, port, message] = process.argv.slice(2);
const socket = net.connect({ host, port: Number(port) }, () => {
  socket.write(message + '\n');
});
let data = '';
socket.on('data', chunk => {
  data += chunk;
  if (data.endsWith('\n')) {
    console.log(`reply=${data.trim()} peer=${socket.remoteAddress}:${socket.remotePort}`);
    socket.end();
  }
});
socket.on('error', err => { console.log(`error=${err.code}`); process.exitCode = 1; });
