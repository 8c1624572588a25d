// The release folder of `cargo xtask dist`, checked from the outside: the checksums, the CRX3
// (format, id, signature verified with the public key it carries), the manifest `key` in the
// self-hosted build and none in the store zips, the deterministic zip and .deb layout, and never
// the committed test key.
//
// Environment: GATEHOUSE_DIST_DIR (default target/dist/gatehouse-<version>).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '../..');
const VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'extension/manifest.json'), 'utf8')).version;
const DIST = process.env.GATEHOUSE_DIST_DIR || path.join(REPO, `target/dist/gatehouse-${VERSION}`);
if (!fs.existsSync(DIST)) throw new Error(`no release folder ${DIST} (cargo xtask dist)`);
const ID = /appid='([a-p]{32})'/.exec(fs.readFileSync(path.join(DIST, 'updates.xml'), 'utf8'))[1];

/** Chrome's id of a DER public key: SHA-256, first 16 bytes, hex digits spelled a–p. */
const idOf = (der) => [...crypto.createHash('sha256').update(der).digest().subarray(0, 16)]
  .map((b) => String.fromCharCode(97 + (b >> 4)) + String.fromCharCode(97 + (b & 15))).join('');

/** Length-delimited fields of a protobuf message: field number → [bytes…]. */
function protoFields(buf) {
  const fields = new Map();
  let i = 0;
  const varint = () => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const key = varint();
    assert.equal(Number(key & 7n), 2, 'only length-delimited fields in a CRX3 header');
    const len = Number(varint());
    const field = Number(key >> 3n);
    fields.set(field, [...(fields.get(field) ?? []), buf.subarray(i, i + len)]);
    i += len;
  }
  return fields;
}

/** A zip's entries, in central-directory order: {name, time, date, mode, data}. */
function unzip(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50);
    const method = buf.readUInt16LE(at + 10);
    const [time, date] = [buf.readUInt16LE(at + 12), buf.readUInt16LE(at + 14)];
    const packed = buf.readUInt32LE(at + 20);
    const [nameLen, extraLen, commentLen] = [buf.readUInt16LE(at + 28), buf.readUInt16LE(at + 30), buf.readUInt16LE(at + 32)];
    const mode = buf.readUInt32LE(at + 38) >>> 16;
    const local = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + packed);
    entries.push({ name, time, date, mode, data: method === 8 ? zlib.inflateRawSync(raw) : raw });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

const manifestOf = (entries) => JSON.parse(entries.find((e) => e.name === 'manifest.json').data.toString('utf8'));

test('SHA256SUMS covers every file and checks', () => {
  const listed = fs.readFileSync(path.join(DIST, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split('  ')[1]);
  const files = fs.readdirSync(DIST, { recursive: true })
    .filter((f) => fs.statSync(path.join(DIST, f)).isFile() && f !== 'SHA256SUMS').sort();
  assert.deepEqual(listed, files);
  execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: DIST });
});

test('the CRX3: its id is the release id, its signature verifies, its manifest carries the release key', () => {
  const crx = fs.readFileSync(path.join(DIST, `gatehouse-${VERSION}.crx`));
  assert.equal(crx.subarray(0, 4).toString('latin1'), 'Cr24');
  assert.equal(crx.readUInt32LE(4), 3, 'CRX version 3');
  const headerLen = crx.readUInt32LE(8);
  const header = protoFields(crx.subarray(12, 12 + headerLen));
  const archive = crx.subarray(12 + headerLen);
  const [proof] = header.get(2); // sha256_with_rsa
  const proofFields = protoFields(proof);
  const publicKey = proofFields.get(1)[0];
  const signature = proofFields.get(2)[0];
  const signedData = header.get(10000)[0];
  assert.equal(idOf(publicKey), ID, 'the id in updates.xml is the CRX key\'s');
  assert.deepEqual(protoFields(signedData).get(1)[0], crypto.createHash('sha256').update(publicKey).digest().subarray(0, 16), 'crx_id');
  const lenLE = Buffer.alloc(4);
  lenLE.writeUInt32LE(signedData.length);
  const message = Buffer.concat([Buffer.from('CRX3 SignedData\x00', 'latin1'), lenLE, signedData, archive]);
  const key = crypto.createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
  assert.ok(crypto.verify('sha256', message, key, signature), 'RSA PKCS #1 v1.5 signature over the CRX3 signed data');

  const entries = unzip(archive);
  const manifest = manifestOf(entries);
  assert.equal(manifest.key, publicKey.toString('base64'));
  assert.equal(manifest.version, VERSION);
  const devKey = JSON.parse(fs.readFileSync(path.join(REPO, 'extension/manifest.json'), 'utf8')).key;
  assert.notEqual(manifest.key, devKey, 'never the committed test key');
  const bootstrap = entries.find((e) => e.name === 'rules/bootstrap.json').data.toString('utf8');
  assert.ok(bootstrap.includes(`chrome-extension://${ID}/block.html`), 'first-run rules redirect to this id\'s block page');
  assert.ok(!bootstrap.includes(`chrome-extension://${fs.readFileSync(path.join(REPO, 'extension/EXTENSION_ID'), 'utf8').trim()}/`));
  for (const f of ['background.js', 'block.html', 'status.html', 'wasm/gatehouse_core_bg.wasm', '_locales/zh_TW/messages.json']) {
    assert.ok(entries.some((e) => e.name === f), `${f} packed`);
  }
  assert.ok(!entries.some((e) => /^(EXTENSION_ID|README\.md|_metadata\/)/.test(e.name)), 'no development files');

  // Deterministic: sorted names, one timestamp, one mode.
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(entries.map((e) => `${e.time}/${e.date}/${e.mode.toString(8)}`)).size, 1);
});

test('the store zips: no key, otherwise the same extension', () => {
  const crx = fs.readFileSync(path.join(DIST, `gatehouse-${VERSION}.crx`));
  const packed = unzip(crx.subarray(12 + crx.readUInt32LE(8)));
  for (const store of ['chrome-web-store', 'edge-addons']) {
    const entries = unzip(fs.readFileSync(path.join(DIST, `store/gatehouse-${VERSION}-${store}.zip`)));
    const manifest = manifestOf(entries);
    assert.equal(manifest.key, undefined, `${store}: no key (the store assigns the id)`);
    assert.deepEqual(entries.map((e) => e.name), packed.map((e) => e.name), `${store}: the same files`);
    const { key, ...rest } = manifestOf(packed);
    assert.ok(key);
    assert.deepEqual(manifest, rest);
  }
});

test('the .deb: root-owned, one mtime, host registered for Chrome, Chromium and Edge, conffiles listed', () => {
  const deb = path.join(DIST, `gatehouse_${VERSION}_amd64.deb`);
  const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(listing.every((l) => l.split(/\s+/)[1] === 'root/root'), 'every entry root/root');
  assert.equal(new Set(listing.map((l) => l.split(/\s+/).slice(3, 5).join(' '))).size, 1, 'one mtime (SOURCE_DATE_EPOCH)');
  const paths = listing.map((l) => l.split(/\s+/).slice(5).join(' '));
  for (const p of [
    './usr/lib/gatehouse/gatehouse-host', './usr/bin/gatehouse',
    './etc/opt/chrome/native-messaging-hosts/org.gatehouse.host.json',
    './etc/chromium/native-messaging-hosts/org.gatehouse.host.json',
    './etc/opt/edge/native-messaging-hosts/org.gatehouse.host.json',
    './usr/share/gatehouse/policy/linux/chrome/gatehouse.json',
    './usr/share/doc/gatehouse/examples/department.json',
  ]) assert.ok(paths.includes(p), `${p} in the package`);
  const conffiles = execFileSync('dpkg-deb', ['-I', deb, 'conffiles'], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(conffiles, [
    '/etc/chromium/native-messaging-hosts/org.gatehouse.host.json',
    '/etc/opt/chrome/native-messaging-hosts/org.gatehouse.host.json',
    '/etc/opt/edge/native-messaging-hosts/org.gatehouse.host.json',
  ]);
  assert.equal(execFileSync('dpkg-deb', ['-f', deb, 'Version'], { encoding: 'utf8' }).trim(), VERSION);
});
