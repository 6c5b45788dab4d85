// Fetches the pinned Envoy API protos and lays out the import closure of roots.txt as one include root.
//
// Why a script and not committed files: the Envoy protos are not ours to vendor (see docs/substitutions.md).
// The build runs this before protoc; it is idempotent and does nothing when the closure is already in place.
//
//   node fetch-envoy-protos.mjs <roots.txt> <vendor dir>
//
// Output: <vendor>/envoy-protos/**.proto (the closure, validate.proto patched) and
//         <vendor>/envoy-protos/closure.txt (one path per line, what protoc compiles).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const PACKAGE = '@grpc/grpc-js-xds';
const VERSION = '1.14.1';
const INCLUDE_DIRS = ['deps/envoy-api', 'deps/xds', 'deps/googleapis', 'deps/protoc-gen-validate'];

const [rootsFile, vendorDir] = process.argv.slice(2);
if (!rootsFile || !vendorDir) {
  console.error('usage: node fetch-envoy-protos.mjs <roots.txt> <vendor dir>');
  process.exit(2);
}

const outDir = path.join(vendorDir, 'envoy-protos');
const stamp = path.join(outDir, 'closure.txt');
const roots = fs.readFileSync(rootsFile, 'utf8').split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'));
const stampKey = `${PACKAGE}@${VERSION}\n${roots.join('\n')}`;
const keyFile = path.join(outDir, '.key');
if (fs.existsSync(stamp) && fs.existsSync(keyFile) && fs.readFileSync(keyFile, 'utf8') === stampKey) {
  process.exit(0);
}

const pkgDir = path.join(vendorDir, `grpc-js-xds-${VERSION}`);
if (!fs.existsSync(path.join(pkgDir, 'package.json'))) {
  fs.mkdirSync(vendorDir, { recursive: true });
  const tarball = execFileSync('npm', ['pack', `${PACKAGE}@${VERSION}`, '--silent', '--pack-destination', vendorDir],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
  const tmp = `${pkgDir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(vendorDir, tarball), '-C', tmp, '--strip-components=1']);
  fs.rmSync(path.join(vendorDir, tarball));
  fs.rmSync(pkgDir, { recursive: true, force: true });
  fs.renameSync(tmp, pkgDir); // atomic: a half-extracted package is never mistaken for a whole one
}

// Well-known types (google/protobuf/*) come with protoc itself; everything else must resolve in the package.
const resolve = p => INCLUDE_DIRS.map(d => path.join(pkgDir, d, p)).find(f => fs.existsSync(f));
const closure = [];
const seen = new Set();
const visit = (p, from) => {
  if (seen.has(p)) return;
  seen.add(p);
  const file = resolve(p);
  if (!file) {
    if (p.startsWith('google/protobuf/')) return;
    throw new Error(`${p} (imported by ${from}) is not in ${PACKAGE}@${VERSION}`);
  }
  closure.push(p);
  const src = fs.readFileSync(file, 'utf8');
  for (const m of src.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) visit(m[1], p);
};
roots.forEach(r => visit(r, 'roots.txt'));
closure.sort();

const tmpOut = `${outDir}.tmp`;
fs.rmSync(tmpOut, { recursive: true, force: true });
for (const p of closure) {
  const dest = path.join(tmpOut, p);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  let text = fs.readFileSync(resolve(p), 'utf8');
  if (p === 'validate/validate.proto' && !/ignore_empty\s*=\s*26/.test(text.match(/message StringRules \{[\s\S]*?\n\}/)?.[0] ?? '')) {
    // The package's validate.proto predates its Envoy protos: 64 of them set StringRules.ignore_empty, which
    // protoc rejects as unknown. Field 26 is ignore_empty upstream. Validation options play no part in C#.
    text = text.replace(/(message StringRules \{)/, '$1\n  optional bool ignore_empty = 26;');
  }
  fs.writeFileSync(dest, text);
}
fs.writeFileSync(path.join(tmpOut, 'closure.txt'), closure.join('\n') + '\n');
fs.writeFileSync(path.join(tmpOut, '.key'), stampKey);
fs.rmSync(outDir, { recursive: true, force: true });
fs.renameSync(tmpOut, outDir);
console.log(`envoy protos: ${closure.length} files from ${PACKAGE}@${VERSION} in ${outDir}`);
