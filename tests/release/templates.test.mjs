// Every policy template `gatehouse policy-templates` writes, validated by validate_templates.py
// (Python's xml.etree and plistlib, no other dependency): ADMX/ADML cross-referenced, Linux JSON
// and the .mobileconfig and .reg values against the managed-storage schema, .reg syntax.
//
// Environment: GATEHOUSE_CLI_BIN (default target/debug/gatehouse), GATEHOUSE_DIST_DIR.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '../..');
const CLI = process.env.GATEHOUSE_CLI_BIN || path.join(REPO, 'target/debug/gatehouse');
const SCHEMA = path.join(REPO, 'extension/managed_schema.json');
const VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'extension/manifest.json'), 'utf8')).version;
const DIST = process.env.GATEHOUSE_DIST_DIR || path.join(REPO, `target/dist/gatehouse-${VERSION}`);
const CHROME_ID = 'abcdefghijklmnopabcdefghijklmnop';
const EDGE_ID = 'ponmlkjihgfedcbaponmlkjihgfedcba';

function validate(dir, ...ids) {
  const r = spawnSync('python3', [path.join(here, 'validate_templates.py'), dir, SCHEMA, ...ids], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function generate(out) {
  execFileSync(CLI, ['policy-templates', '--policy', path.join(REPO, 'manifests/examples/department.json'),
    '--extension-id', CHROME_ID, '--edge-extension-id', EDGE_ID,
    '--update-url', 'https://intranet.example/gatehouse/updates.xml',
    '--edge-update-url', 'https://edge.microsoft.com/extensionwebstorebase/v1/crx',
    '--out', out], { stdio: 'ignore' });
}

test('freshly generated templates (separate Chrome and Edge ids) validate', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-templates-'));
  try {
    generate(out);
    const r = validate(out, CHROME_ID, EDGE_ID);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /gatehouse-chrome\.admx: \d+ policies/);
    assert.match(r.out, /gatehouse-edge\.admx: \d+ policies/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('the release folder\'s templates validate for the release id', { skip: !fs.existsSync(path.join(DIST, 'updates.xml')) && 'no release folder (cargo xtask dist)' }, () => {
  const id = /appid='([a-p]{32})'/.exec(fs.readFileSync(path.join(DIST, 'updates.xml'), 'utf8'))[1];
  const r = validate(path.join(DIST, 'policy'), id);
  assert.equal(r.code, 0, r.err);
});

test('the committed templates in manifests/policy validate', () => {
  const id = fs.readFileSync(path.join(REPO, 'extension/EXTENSION_ID'), 'utf8').trim();
  const r = validate(path.join(REPO, 'manifests/policy'), id);
  assert.equal(r.code, 0, r.err);
});

test('the validator is not vacuous: each planted fault is reported', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-templates-bad-'));
  try {
    generate(out);
    // An ADML that lost a string the ADMX uses.
    const adml = path.join(out, 'windows/admx/zh-TW/gatehouse-edge.adml');
    fs.writeFileSync(adml, fs.readFileSync(adml, 'utf8').replace(/<string id="allowlist">[^<]*<\/string>/, ''));
    // A .reg saved as UTF-8.
    const reg = path.join(out, 'windows/gatehouse-chrome.reg');
    fs.writeFileSync(reg, fs.readFileSync(reg).subarray(2).toString('utf16le'));
    // A Linux policy with a value the schema refuses.
    const linux = path.join(out, 'linux/chrome/gatehouse.json');
    const doc = JSON.parse(fs.readFileSync(linux, 'utf8'));
    doc['3rdparty'].extensions[CHROME_ID].categories.webmail.mode = 'sometimes';
    fs.writeFileSync(linux, JSON.stringify(doc));
    const r = validate(out, CHROME_ID, EDGE_ID);
    assert.equal(r.code, 1);
    assert.match(r.err, /zh-TW.*string 'allowlist' used by the ADMX is not defined/);
    assert.match(r.err, /gatehouse-chrome\.reg: no UTF-16LE byte-order mark/);
    assert.match(r.err, /categories\.webmail\.mode: 'sometimes' is not one of/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
