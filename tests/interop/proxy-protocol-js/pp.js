'use strict';
// The proxy-protocol-js side of ax's PROXY protocol interop tests (tests/ProxyProtocol.Tests/Interop).
//
//   node pp.js REQUESTS.json   runs every request of the JSON array in the file, prints a JSON array of results
//   node pp.js decode HEX      decodes one header (and whatever follows it), prints JSON
//
// Requests:
//   { "op": "decode", "hex": "0D0A..." }
//   { "op": "encode-v2", "command": "PROXY|LOCAL", "family": "INET|INET6|UNIX|UNSPEC", "transport": "STREAM|DGRAM|UNSPEC",
//     "source": { "hex": "7F000001", "port": 1 }, "destination": { ... }, "tlvs": [ { "type": 1, "hex": "6832" } ] }
//   { "op": "encode-v1", "protocol": "TCP4|TCP6|UNKNOWN", "source": { "address": "127.0.0.1", "port": 1 }, "destination": { ... } }
//
// proxy-protocol-js 4.0.6 knows no TLVs: its V2 build() sets the length field to the address block's length and
// appends `data` after it, and parse() returns everything after the address block as `data`. So this script does
// the TLV part itself, and only that: when encoding it appends the TLVs as `data` and adds their length to the
// length field; when decoding it splits `data` at the header's own length field into TLVs and payload.
const pp = require('proxy-protocol-js');

const v2Families = { INET: 'INET', INET6: 'INET6', UNIX: 'UNIX', UNSPEC: 'UNSPEC' };
const familyNames = { 0x00: 'UNSPEC', 0x10: 'INET', 0x20: 'INET6', 0x30: 'UNIX' };
const addressLengths = { UNSPEC: 0, INET: 12, INET6: 36, UNIX: 216 };

function hex(bytes) {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

function fromHex(text) {
  return Uint8Array.from(Buffer.from(text || '', 'hex'));
}

function decode(input) {
  const version = pp.ProxyProtocolIdentifier.identify(input);
  if (version === pp.ProxyProtocolVersion.V1) {
    const parsed = pp.V1BinaryProxyProtocol.parse(Buffer.from(input));
    return {
      version: 1,
      protocol: parsed.inetProtocol,
      source: { address: parsed.source.ipAddress, port: parsed.source.port },
      destination: { address: parsed.destination.ipAddress, port: parsed.destination.port },
      headerLength: input.length - parsed.data.length,
      payload: hex(parsed.data),
    };
  }
  if (version === pp.ProxyProtocolVersion.V2) {
    const parsed = pp.V2ProxyProtocol.parse(input);
    const family = familyNames[parsed.addressFamilyType];
    const length = (input[14] << 8) | input[15];
    const tlvBytes = parsed.data.slice(0, length - addressLengths[family]);
    const result = {
      version: 2,
      command: pp.Command[parsed.command],
      family,
      transport: pp.TransportProtocol[parsed.transportProtocol],
      headerLength: 16 + length,
      tlvs: splitTlvs(tlvBytes),
      payload: hex(parsed.data.slice(length - addressLengths[family])),
    };
    const address = parsed.proxyAddress;
    if (family === 'INET' || family === 'INET6' || family === 'UNIX') {
      result.source = { hex: hex(address.sourceAddress.address), port: address.sourcePort };
      result.destination = { hex: hex(address.destinationAddress.address), port: address.destinationPort };
    }
    return result;
  }
  throw new Error('proxy-protocol-js does not recognize a PROXY header');
}

function splitTlvs(bytes) {
  const tlvs = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 3 > bytes.length) {
      throw new Error(`${bytes.length - offset} trailing byte(s) are not a TLV`);
    }
    const length = (bytes[offset + 1] << 8) | bytes[offset + 2];
    if (offset + 3 + length > bytes.length) {
      throw new Error(`TLV 0x${bytes[offset].toString(16)} overruns the header`);
    }
    tlvs.push({ type: bytes[offset], hex: hex(bytes.slice(offset + 3, offset + 3 + length)) });
    offset += 3 + length;
  }
  return tlvs;
}

function encodeV2(request) {
  const family = v2Families[request.family];
  let address;
  switch (family) {
    case 'INET':
      address = new pp.IPv4ProxyAddress(
        pp.IPv4Address.createFrom(Array.from(fromHex(request.source.hex))), request.source.port,
        pp.IPv4Address.createFrom(Array.from(fromHex(request.destination.hex))), request.destination.port);
      break;
    case 'INET6':
      address = new pp.IPv6ProxyAddress(
        pp.IPv6Address.createFrom(Array.from(fromHex(request.source.hex))), request.source.port,
        pp.IPv6Address.createFrom(Array.from(fromHex(request.destination.hex))), request.destination.port);
      break;
    case 'UNIX':
      address = new pp.UnixProxyAddress(
        pp.UnixAddress.createFrom(Array.from(fromHex(request.source.hex))),
        pp.UnixAddress.createFrom(Array.from(fromHex(request.destination.hex))));
      break;
    case 'UNSPEC':
      address = new pp.UnspecProxyAddress();
      break;
    default:
      throw new Error(`unknown family ${request.family}`);
  }
  const tlvParts = (request.tlvs || []).map((tlv) => {
    const value = fromHex(tlv.hex);
    return Uint8Array.from([tlv.type, value.length >> 8, value.length & 0xff, ...value]);
  });
  const tlvBytes = Uint8Array.from(Buffer.concat(tlvParts.map((part) => Buffer.from(part))));
  const header = new pp.V2ProxyProtocol(pp.Command[request.command], pp.TransportProtocol[request.transport], address,
    tlvBytes.length > 0 ? tlvBytes : undefined).build();
  const length = ((header[14] << 8) | header[15]) + tlvBytes.length;
  header[14] = length >> 8;
  header[15] = length & 0xff;
  return { hex: hex(header) };
}

function encodeV1(request) {
  const source = new pp.Peer(request.source.address, request.source.port);
  const destination = new pp.Peer(request.destination.address, request.destination.port);
  const header = new pp.V1BinaryProxyProtocol(pp.INETProtocol[request.protocol], source, destination).build();
  return { hex: hex(header) };
}

function run(request) {
  try {
    switch (request.op) {
      case 'decode':
        return { ok: true, ...decode(fromHex(request.hex)) };
      case 'encode-v2':
        return { ok: true, ...encodeV2(request) };
      case 'encode-v1':
        return { ok: true, ...encodeV1(request) };
      default:
        throw new Error(`unknown op ${request.op}`);
    }
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
}

const args = process.argv.slice(2);
if (args[0] === 'decode' && args.length === 2) {
  console.log(JSON.stringify(run({ op: 'decode', hex: args[1] }), null, 2));
} else if (args.length === 1) {
  const requests = JSON.parse(require('fs').readFileSync(args[0], 'utf8'));
  process.stdout.write(JSON.stringify(requests.map(run)) + '\n');
} else {
  console.error('usage: node pp.js REQUESTS.json | node pp.js decode HEX');
  process.exit(2);
}
