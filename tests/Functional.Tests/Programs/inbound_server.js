// A nonblocking (epoll) line echo server under node: logs every connection it accepts, with the peer address.
// Usage: node inbound_server.js BIND_HOST PORT NAME
const net = require('net');
const [host, port, name] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const server = net.createServer((socket) => {
  console.log(`accepted ${socket.remoteAddress}:${socket.remotePort}`);
  let buffer = '';
  socket.on('data', (data) => {
    buffer += data.toString();
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      socket.write(`${name}:${buffer.slice(0, i)}\n`);
      buffer = buffer.slice(i + 1);
    }
  });
  socket.on('error', () => {});
});
server.listen(port, host, () => console.log(`listening ${host}:${port}`));
