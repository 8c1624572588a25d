// Checks on the extension's source that need no browser: translations complete, labels exist,
// no HTML built from strings, permissions as documented, schema documented, the host's error
// table mirrored exactly.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXT = path.join(REPO, 'extension');
const read = (...p) => fs.readFileSync(path.join(...p), 'utf8');
const LOCALES = ['en', 'zh_TW', 'zh_CN'];
const messages = Object.fromEntries(LOCALES.map((l) => [l, JSON.parse(read(EXT, '_locales', l, 'messages.json'))]));

/** The extension's own sources (not the built wasm glue). */
function sources(ext) {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && !['wasm', 'rules', '_locales', '_metadata'].includes(e.name)) walk(p);
      else if (e.isFile() && p.endsWith(ext)) out.push(p);
    }
  };
  walk(EXT);
  return out;
}

test('every locale has the same messages and placeholders', () => {
  const keys = Object.keys(messages.en).sort();
  assert.ok(keys.length > 100, `only ${keys.length} messages`);
  for (const l of LOCALES.slice(1)) {
    assert.deepEqual(Object.keys(messages[l]).sort(), keys, `${l} has the same keys as en`);
    for (const k of keys) {
      const names = (m) => Object.keys(m.placeholders ?? {}).sort();
      assert.deepEqual(names(messages[l][k]), names(messages.en[k]), `${l}.${k} placeholders`);
      for (const p of names(messages[l][k])) assert.ok(messages[l][k].message.includes(`$${p.toUpperCase()}$`), `${l}.${k} uses $${p.toUpperCase()}$`);
      assert.ok(messages[l][k].message.trim(), `${l}.${k} is not empty`);
    }
  }
});

test('every label the pages use exists', () => {
  const used = new Set();
  for (const f of sources('.html')) {
    for (const m of read(f).matchAll(/data-i18n(?:-[a-z-]+)?="([A-Za-z_]+)"/g)) used.add(m[1]);
  }
  for (const f of sources('.js')) {
    for (const m of read(f).matchAll(/\bt\('([A-Za-z_]+)'/g)) used.add(m[1]);
  }
  assert.ok(used.size > 60, `found only ${used.size} labels in use`);
  const missing = [...used].filter((k) => !(k in messages.en));
  assert.deepEqual(missing, []);
  assert.ok('reason_unknown' in messages.en, 'reason_unknown');
});

// Issue 10: the block page's reason codes were a third copy of decide.rs's, tied by nothing
// (`proceeded` was decided in the worker and had no code at all). js/reasons.js mirrors
// `Reason::code` exactly, in order, and each code has its sentence in every locale.
test("the engine's reason codes are mirrored exactly", async () => {
  const { REASONS } = await import(path.join(EXT, 'js/reasons.js'));
  const decide = read(REPO, 'wasm-core/src/decide.rs');
  const body = decide.slice(decide.indexOf('pub fn code(self)'), decide.indexOf('pub const ALL'));
  const codes = [...body.matchAll(/Self::[A-Za-z]+ => "([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 11, `Reason::code found (${codes.length} codes)`);
  assert.deepEqual(REASONS, codes);
  for (const l of LOCALES) {
    for (const code of REASONS) assert.ok(`reason_${code}` in messages[l], `${l}: reason_${code}`);
  }
});

test('no HTML is built from strings', () => {
  const checked = sources('.js');
  assert.ok(checked.length >= 10, `only ${checked.length} scripts found`);
  for (const f of checked) {
    const text = read(f);
    for (const bad of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
      assert.ok(!text.includes(bad), `${path.relative(REPO, f)} uses ${bad}`);
    }
  }
  for (const f of sources('.html')) assert.ok(!/<script(?![^>]*\bsrc=)/.test(read(f)), `${path.relative(REPO, f)} has an inline script`);
});

test('the manifest asks for the documented permissions only', () => {
  const manifest = JSON.parse(read(EXT, 'manifest.json'));
  assert.deepEqual(manifest.permissions.sort(), ['alarms', 'browsingData', 'declarativeNetRequest', 'nativeMessaging', 'privacy', 'storage', 'webNavigation']);
  assert.deepEqual(manifest.host_permissions, ['<all_urls>']);
  const readme = read(EXT, 'README.md');
  for (const p of [...manifest.permissions, 'host permissions']) assert.ok(readme.includes(`| \`${p}\``) || readme.includes(`| ${p}`), `README justifies ${p}`);
  assert.match(manifest.content_security_policy.extension_pages, /'wasm-unsafe-eval'/);
  assert.doesNotMatch(manifest.content_security_policy.extension_pages, /'unsafe-eval'|'unsafe-inline'/);
  assert.equal(manifest.background.type, 'module');
  // The bootstrap ruleset on from install; the broad tier's, one per category, off until the
  // first compile switches them on (never part of the bootstrap: issue 12).
  const broad = ['webmail', 'cloud_storage', 'instant_messaging', 'circumvention']
    .map((c) => ({ id: `broad_${c}`, enabled: false, path: `rules/broad_${c}.json` }));
  assert.deepEqual(manifest.declarative_net_request.rule_resources, [{ id: 'bootstrap', enabled: true, path: 'rules/bootstrap.json' }, ...broad]);
  assert.equal(manifest.storage.managed_schema, 'managed_schema.json');
  // Web pages cannot probe chrome-extension://<fixed id>/block.html (tamper finding 8).
  for (const entry of manifest.web_accessible_resources) assert.equal(entry.use_dynamic_url, true, JSON.stringify(entry.resources));
});

test('the extension id follows from the manifest key', async () => {
  const { createHash } = await import('node:crypto');
  const key = JSON.parse(read(EXT, 'manifest.json')).key;
  const hex = createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 32);
  const id = [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
  assert.equal(read(EXT, 'EXTENSION_ID').trim(), id);
});

test('every managed-schema entry has a title and a description', () => {
  const schema = JSON.parse(read(EXT, 'managed_schema.json'));
  let count = 0;
  const walk = (node, at) => {
    count++;
    assert.ok(node.title && node.description, `${at} has title and description`);
    for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${at}.${k}`);
    if (node.items) walk(node.items, `${at}[]`);
    if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${at}.*`);
  };
  walk(schema, '$');
  assert.ok(count > 50, `only ${count} schema nodes`);
});

test("the host's error codes are mirrored exactly", async () => {
  const { HOST_ERRORS } = await import(path.join(EXT, 'js/host-protocol.js'));
  const table = {};
  for (const m of read(REPO, 'native-host/PROTOCOL.md').matchAll(/^\| (\d+) \| `([a-z0-9_]+)` \|/gm)) table[m[2]] = Number(m[1]);
  assert.ok(Object.keys(table).length >= 12, 'PROTOCOL.md error table found');
  assert.deepEqual(HOST_ERRORS, table);
});

// Issue 10: the host once raised the severity of `block` while the extension sent `blocked`. The
// audit kinds table in PROTOCOL.md (mirrored by KINDS in native-host/src/audit.rs, checked there)
// must be exactly the kinds the extension sends.
test('the audit kinds the extension sends are the table in PROTOCOL.md', () => {
  const section = read(REPO, 'native-host/PROTOCOL.md').split('### Audit kinds')[1] ?? '';
  const table = [...section.split('\n### ')[0].matchAll(/^\| `([a-z0-9_]+)` \| (warning|notice) \|/gm)].map((m) => m[1]);
  assert.ok(table.length >= 10, `PROTOCOL.md audit kinds table found (${table.length} rows)`);
  const sent = new Map();
  for (const file of sources('.js')) {
    for (const m of read(file).matchAll(/\bkind:\s*([^,}\n]+)/g)) {
      // `kind: cond ? 'a' : 'b'`: the kinds are the branches, not the condition's operands.
      const expr = m[1].includes('?') ? m[1].slice(m[1].indexOf('?') + 1) : m[1];
      const kinds = [...expr.matchAll(/'([a-z0-9_]+)'/g)].map((k) => k[1]);
      const at = `${path.relative(REPO, file)}: kind: ${m[1].trim()}`;
      assert.ok(kinds.length, `${at} is not a literal kind, so it cannot be checked against the table`);
      for (const k of kinds) sent.set(k, at);
    }
  }
  assert.ok(sent.size >= 10, `only ${sent.size} kinds found in the extension`);
  for (const [k, at] of sent) assert.ok(table.includes(k), `${at}: "${k}" is not in PROTOCOL.md's audit kinds`);
  for (const k of table) assert.ok(sent.has(k), `PROTOCOL.md lists "${k}", which the extension never sends`);
  assert.equal(new Set(table).size, table.length, 'a kind listed twice');
});
