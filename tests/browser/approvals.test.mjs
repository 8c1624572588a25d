// The status page's token import: pasted, stored by the native host, verified by wasm-core
// against the policy's approver key, and access opens without a restart.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO, hostAvailable, openScenario } from './lib/harness.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';
const DROPBOX = 'https://www.dropbox.com/home';
const KID = 'bureau-mgmt-2026';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

const b64url = (data) => Buffer.from(data).toString('base64url');

/** A JWS compact EdDSA token (RFC 7515, RFC 8037), signed as `gatehouse approve` would. */
function sign(privateKey, claims) {
  const head = b64url(JSON.stringify({ alg: 'EdDSA', kid: KID, typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const signature = crypto.sign(null, Buffer.from(`${head}.${body}`), privateKey);
  return `${head}.${body}.${b64url(signature)}`;
}

/**
 * A joined machine for the host's Linux identity reader: native-host's `sssd-joined` fixture
 * (ws01 in corp.example) with a passwd that does not list this uid, so the user is a directory
 * account and gets a domain principal.
 */
function joinedIdentityRoot(dir) {
  fs.cpSync(path.join(REPO, 'native-host/tests/fixtures/identity/sssd-joined'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'localadmin:x:1000:1000:Local Admin,,,:/home/localadmin:/bin/bash\n');
  return dir;
}

test('a pasted approval token opens the approved service without a restart', async () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID };
  const policy = { approvals: { keys: [jwk] } };
  const nowS = Math.floor(Date.now() / 1000);
  const claims = { iss: KID, machine: 'ws01', services: ['gmail'], purpose: 'Liaison with the contractor', nbf: nowS - 60, exp: nowS + 7 * 86400 };

  const root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'gatehouse-identity-'));
  const s = await openScenario('approval-import', {
    policy,
    host: true,
    env: { GATEHOUSE_IDENTITY_ROOT: joinedIdentityRoot(root) },
  });
  try {
    const st = await s.waitFor((x) => x.readyMs && x.policy?.source === 'managed' && x.host?.status === 'connected', 'managed policy and host');
    // The user is this process's account, as a directory user of corp.example.
    assert.match(st.identity.principal ?? '', /^[^@]+@corp\.example$/);
    claims.sub = st.identity.principal;
    let visit = await s.visit(GMAIL);
    assert.equal(visit.url, s.blockUrl(GMAIL));

    const page = await s.context.newPage();
    await page.goto(s.extensionUrl('status.html'));
    await page.waitForSelector('body[data-state="ready"]');
    const importToken = async (token) => {
      await page.fill('#token', token);
      await page.click('#import');
      await page.waitForFunction(() => document.querySelector('#import-result').dataset.result);
      const result = await page.locator('#import-result').getAttribute('data-result');
      await page.evaluate(() => { delete document.querySelector('#import-result').dataset.result; });
      return result;
    };

    // Not a token at all: the host refuses to store it.
    assert.equal(await importToken('not a token'), 'failed');
    assert.match(await page.locator('#import-result').textContent(), /JWS|token/i);
    // Signed for someone else: stored, but rejected with its reason.
    assert.equal(await importToken(sign(privateKey, { ...claims, jti: 'appr-other', sub: 'bob@corp.example' })), 'other_user');
    // Valid: in force at once.
    assert.equal(await importToken(sign(privateKey, { ...claims, jti: 'appr-0001' })), 'accepted');
    assert.match(await page.locator('#approvals').textContent(), /gmail/);
    assert.match(await page.locator('#rejected').textContent(), /other_user/);
    const rejections = await s.waitForAudit((e) => e.kind === 'token_rejected', 'the rejection');
    assert.deepEqual(rejections.map((e) => e.reason), ['other_user'], 'the rejection is logged once');
    assert.equal(fs.readdirSync(s.hostDirs.userApprovals).filter((f) => !f.startsWith('.')).length, 2, 'the host stored both signed tokens');

    visit = await s.visit(GMAIL);
    assert.equal(visit.url, GMAIL, 'Gmail opens without a restart');
    assert.equal(s.web.sawHost('mail.google.com').requests.length > 0, true);
    visit = await s.visit(DROPBOX);
    assert.equal(visit.url, s.blockUrl(DROPBOX), 'an approval for Gmail does not open Dropbox');
  } finally {
    await s.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
