// The Windows release artefacts, as far as a Linux machine can take them (Windows' own Event
// Log, Group Policy and Chrome/Edge for Windows are out of reach here):
//   1. the MSI's tables read back with msitools: the files, the native-messaging registrations
//      under HKLM for Chrome, Edge and Chromium, the Event Log source "Gatehouse";
//   2. installed with Wine's `msiexec /i … /qn` into a throwaway WINEPREFIX: the files in
//      Program Files, the registry keys (read back with Wine's `reg query`);
//   3. the INSTALLED gatehouse-host.exe answering hello, identity and network frames (with a
//      test-only bcryptprimitives.dll shim placed beside it, see shim/; never in the MSI);
//   4. the registered Event Log message file formats event 1000 as the record's own text;
//   5. `msiexec /x … /qn` leaves no file, folder or key behind.
//
// Environment: GATEHOUSE_DIST_DIR (default target/dist/gatehouse-<version>).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '../..');
const VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'extension/manifest.json'), 'utf8')).version;
const DIST = process.env.GATEHOUSE_DIST_DIR || path.join(REPO, `target/dist/gatehouse-${VERSION}`);
const MSI = path.join(DIST, `gatehouse-${VERSION}-x64.msi`);
const WINE = '/usr/lib/wine/wine64';
const HOST_NAME = 'org.gatehouse.host';
const NATIVE_KEYS = {
  chrome: `HKLM\\SOFTWARE\\Google\\Chrome\\NativeMessagingHosts\\${HOST_NAME}`,
  edge: `HKLM\\SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\${HOST_NAME}`,
  chromium: `HKLM\\SOFTWARE\\Chromium\\NativeMessagingHosts\\${HOST_NAME}`,
};
const EVENT_LOG_KEY = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\Gatehouse';
const INSTALL_DIR = 'C:\\Program Files\\Gatehouse';

if (!fs.existsSync(MSI)) throw new Error(`no ${MSI} (cargo xtask dist)`);
const ID = /appid='([a-p]{32})'/.exec(fs.readFileSync(path.join(DIST, 'updates.xml'), 'utf8'))?.[1];

/** One msitools table as rows of objects (the first three lines are names, types, table). */
function table(name) {
  const lines = execFileSync('msiinfo', ['export', MSI, name], { encoding: 'utf8' }).trimEnd().split(/\r?\n/);
  const columns = lines[0].split('\t');
  return lines.slice(3).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [columns[i], v])));
}

test('the MSI tables: files, HKLM native-messaging keys for Chrome and Edge, the Event Log source', () => {
  const files = table('File');
  assert.deepEqual(files.map((f) => f.FileName).sort(),
    ['gatehouse-host.exe', 'gatehouse-messages.dll', 'gatehouse.exe', `${HOST_NAME}.json`]);
  const dirs = table('Directory');
  const installDir = dirs.find((d) => d.Directory === 'INSTALLDIR');
  assert.equal(installDir.DefaultDir, 'Gatehouse');
  assert.equal(installDir.Directory_Parent, 'ProgramFiles64Folder');
  const components = table('Component');
  for (const c of components) assert.ok(Number(c.Attributes) & 256, `component ${c.Component} is 64-bit (msidbComponentAttributes64bit)`);

  const registry = table('Registry');
  const rows = (key) => registry.filter((r) => r.Key === key);
  for (const [browser, key] of Object.entries(NATIVE_KEYS)) {
    const [row] = rows(key.replace(/^HKLM\\/, ''));
    assert.ok(row, `a registration for ${browser}`);
    assert.equal(row.Root, '2', `${browser}: HKLM`);
    assert.equal(row.Name, '', `${browser}: the key's default value`);
    assert.equal(row.Value, '[#NativeManifest]', `${browser}: the installed manifest's full path`);
  }
  const log = rows(EVENT_LOG_KEY.replace(/^HKLM\\/, ''));
  assert.equal(log.find((r) => r.Name === 'EventMessageFile')?.Value, '[#Messages]');
  assert.equal(log.find((r) => r.Name === 'TypesSupported')?.Value, '#7');
  assert.ok(log.every((r) => r.Root === '2'));
  const summary = execFileSync('msiinfo', ['suminfo', MSI], { encoding: 'utf8' });
  assert.match(summary, /Template: x64;1033/);

  // The manifest inside the MSI: the release id, the exe beside it.
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-msiextract-'));
  try {
    execFileSync('msiextract', ['-C', out, MSI], { stdio: 'ignore' });
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'Gatehouse', `${HOST_NAME}.json`), 'utf8'));
    assert.equal(manifest.name, HOST_NAME);
    assert.equal(manifest.path, 'gatehouse-host.exe', 'relative to the manifest\'s folder');
    assert.deepEqual(manifest.allowed_origins, [`chrome-extension://${ID}/`]);
    // The message file carries a message table (resource type 11) for the host's event id 1000.
    const dump = execFileSync('x86_64-w64-mingw32-objdump', ['-p', path.join(out, 'Gatehouse/gatehouse-messages.dll')], { encoding: 'utf8' });
    assert.match(dump, /Type Table:[^\n]*\n\s*\S+\s+Entry: ID: 0x00000b,/, 'an RT_MESSAGETABLE resource');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

/** A throwaway Wine prefix; `wine(args)` runs there and returns stdout. */
function winePrefix() {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-wine-'));
  // No Mono or Gecko installer prompts; no debug chatter.
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', DISPLAY: '' };
  const wine = (args, opts = {}) => execFileSync(WINE, args, { env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const unix = (winPath) => path.join(prefix, 'drive_c', winPath.replace(/^C:\\/, '').replaceAll('\\', '/'));
  const regQuery = (key) => {
    try {
      return wine(['reg', 'query', key]);
    } catch {
      return null;
    }
  };
  return { prefix, env, wine, unix, regQuery };
}

/** Frames in (4-byte native-endian length + UTF-8 JSON), frames out; the host exits at EOF. */
function talk(env, exe, requests) {
  return new Promise((resolve, reject) => {
    const child = spawn(WINE, [exe, `chrome-extension://${ID}/`], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks = [];
    let stderr = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no exit after 60 s; stderr: ${stderr}`)); }, 60_000);
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      const replies = [];
      for (let i = 0; i + 4 <= buf.length;) {
        const len = buf.readUInt32LE(i);
        replies.push(JSON.parse(buf.subarray(i + 4, i + 4 + len).toString('utf8')));
        i += 4 + len;
      }
      resolve({ code, replies, stderr });
    });
    for (const r of requests) {
      const body = Buffer.from(JSON.stringify(r));
      const head = Buffer.alloc(4);
      head.writeUInt32LE(body.length);
      child.stdin.write(Buffer.concat([head, body]));
    }
    child.stdin.end();
  });
}

test('installed with Wine msiexec: files, HKLM keys, the installed host answers; uninstall leaves nothing', async () => {
  const w = winePrefix();
  try {
    w.wine(['msiexec', '/i', `Z:${MSI.replaceAll('/', '\\')}`, '/qn']);
    const dir = w.unix(INSTALL_DIR);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['gatehouse-host.exe', 'gatehouse-messages.dll', 'gatehouse.exe', `${HOST_NAME}.json`]);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'gatehouse-host.exe')), fs.readFileSync(path.join(DIST, 'windows-x86_64/gatehouse-host.exe')),
      'the installed host is the released one');
    for (const [browser, key] of Object.entries(NATIVE_KEYS)) {
      const value = w.regQuery(key);
      assert.ok(value, `${browser}: ${key} exists`);
      assert.match(value, new RegExp(`\\(Default\\)\\s+REG_SZ\\s+${`${INSTALL_DIR}\\${HOST_NAME}.json`.replaceAll('\\', '\\\\')}`), `${browser}: points at the installed manifest`);
    }
    const log = w.regQuery(EVENT_LOG_KEY);
    assert.match(log ?? '', /EventMessageFile\s+REG_SZ\s+C:\\Program Files\\Gatehouse\\gatehouse-messages\.dll/);
    assert.match(log ?? '', /TypesSupported\s+REG_DWORD\s+0x7/);

    // The installed host, as Chrome would start it (the manifest's path resolved beside it).
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, `${HOST_NAME}.json`), 'utf8'));
    const exe = `${INSTALL_DIR}\\${manifest.path}`;
    // Test-only: Wine 8 lacks ProcessPrng; the shim goes beside the installed exe for this run.
    const shim = path.join(dir, 'bcryptprimitives.dll');
    execFileSync('x86_64-w64-mingw32-gcc', ['-shared', '-O2', '-o', shim,
      path.join(here, 'shim/bcryptprimitives.c'), path.join(here, 'shim/bcryptprimitives.def'), '-ladvapi32']);
    const { code, replies, stderr } = await talk(w.env, exe, [
      { v: 1, id: 1, type: 'hello' },
      { v: 1, id: 2, type: 'identity' },
      { v: 1, id: 3, type: 'network' },
    ]);
    assert.equal(code, 0, `clean exit at end of input; stderr: ${stderr}`);
    assert.equal(replies.length, 3, `three replies; stderr: ${stderr}`);
    const [hello, identity, network] = replies;
    assert.equal(hello.ok, true);
    assert.equal(hello.data.platform, 'windows');
    assert.equal(hello.data.hostVersion, VERSION);
    assert.equal(hello.data.protocol, 1);
    assert.equal(identity.ok, true, JSON.stringify(identity));
    assert.equal(identity.data.joined, false, 'a Wine prefix is joined to no domain');
    assert.match(identity.data.source, /NetGetJoinInformation/);
    assert.equal(network.ok, true, JSON.stringify(network));
    assert.ok(Array.isArray(network.data.addresses));
    fs.rmSync(shim);

    // The registered message file formats the host's event 1000 as the record itself, as Event
    // Viewer would (Wine's Event Log is a stub: this is as far as the Event Log goes here).
    const fmt = path.join(w.prefix, 'formatmessage.exe');
    execFileSync('x86_64-w64-mingw32-gcc', ['-municode', '-O2', '-o', fmt, path.join(here, 'formatmessage.c')]);
    const messageFile = /EventMessageFile\s+REG_SZ\s+(.+)/.exec(log)[1].trim();
    const record = 'gatehouse-audit {"kind":"blocked"}';
    const formatted = w.wine([fmt, messageFile, '1000', record]);
    assert.equal(formatted.replace(/\r/g, ''), `[${record}\n]`);
    fs.rmSync(fmt);

    w.wine(['msiexec', '/x', `Z:${MSI.replaceAll('/', '\\')}`, '/qn']);
    assert.ok(!fs.existsSync(dir), `${INSTALL_DIR} is gone`);
    for (const key of [...Object.values(NATIVE_KEYS), EVENT_LOG_KEY]) {
      assert.equal(w.regQuery(key), null, `${key} is gone`);
    }
  } finally {
    if (!process.env.GATEHOUSE_KEEP) fs.rmSync(w.prefix, { recursive: true, force: true });
    else console.log(`kept ${w.prefix}`);
  }
});
