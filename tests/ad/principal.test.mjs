// Approvals bind to the principal the real host reports. On a real domain the same person is
// spelled alice@corp.example (the UPN SSSD reports) and alice@CORP.EXAMPLE (the Kerberos
// spelling an approver may copy from a ticket): those match; CORP\alice, a bare "alice", bob,
// or another domain do not. Tokens come
// from `gatehouse keygen`/`approve`; the verdicts from `gatehouse inspect` (wasm-core's verify),
// checked for the principals and machines the real native host reported.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { approve, approverKey, askHost, domain, inspect, scratchFor } from './lib/domain.mjs';

let work;
let key;
let policyFile;
/** The identities the real host reported, the way the extension receives them. */
const reported = {};

before(async () => {
  work = scratchFor(null, 'principal');
  key = await approverKey(work);
  policyFile = path.join(work, 'policy.json');
  fs.writeFileSync(policyFile, JSON.stringify({ approvals: { keys: [key.publicJwk] } }));
  reported.aliceSssd = await askHost('identity', {}, { machine: 'ws01', user: 'alice' });
  reported.bob = await askHost('identity', {}, { machine: 'ws01', user: 'bob' });
  reported.ws02 = await askHost('identity', {}, { machine: 'ws02', user: null });
  // The premises: the two spellings really are what the host reports on this domain.
  assert.equal(reported.aliceSssd.principal, 'alice@corp.example', 'host principal for alice through SSSD');
  assert.equal(reported.bob.principal, 'bob@corp.example', 'host principal for bob through SSSD');
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Verifies `token` for `principal` and asserts the verdict code, naming both on failure. */
async function expectVerdict(token, principal, code, { machine, issuedTo } = {}) {
  const v = await inspect(token, policyFile, { user: principal, machine, url: 'https://mail.google.com/mail/u/0/' });
  assert.equal(v.code, code,
    `token issued to ${issuedTo}${machine !== undefined ? ` (machine ${machine})` : ''}, checked for ${principal}: verdict ${v.code} (${v.message}), expected ${code}`);
  assert.equal(v.valid, code === 'valid', `"valid" agrees with the code for ${principal}`);
  assert.equal(v.exitCode, code === 'valid' ? 0 : 1, `inspect's exit code for ${principal}`);
  return v;
}

test('a token issued to the UPN matches alice as SSSD reports her, in either spelling', async () => {
  const token = await approve(key, 'alice@corp.example');
  await expectVerdict(token, reported.aliceSssd.principal, 'valid', { issuedTo: 'alice@corp.example' });
  await expectVerdict(token, 'alice@CORP.EXAMPLE', 'valid', { issuedTo: 'alice@corp.example' });
});

test('a token issued to the Kerberos spelling matches the UPN the host reports', async () => {
  const token = await approve(key, 'alice@CORP.EXAMPLE');
  await expectVerdict(token, reported.aliceSssd.principal, 'valid', { issuedTo: 'alice@CORP.EXAMPLE' });
  await expectVerdict(token, 'ALICE@Corp.Example', 'valid', { issuedTo: 'alice@CORP.EXAMPLE' });
});

test('nothing but case differences match: bob, CORP\\alice, bare alice, other domains', async () => {
  const token = await approve(key, 'alice@corp.example');
  for (const other of [reported.bob.principal, 'CORP\\alice', 'corp\\ALICE', 'alice', 'alice@corp.example.evil', 'alice@sub.corp.example', 'alice.x@corp.example']) {
    await expectVerdict(token, other, 'other_user', { issuedTo: 'alice@corp.example' });
  }
  // And the other way round: a token issued to the down-level name is not alice's UPN.
  const downLevel = await approve(key, 'CORP\\alice');
  await expectVerdict(downLevel, reported.aliceSssd.principal, 'other_user', { issuedTo: 'CORP\\alice' });
  await expectVerdict(downLevel, 'alice@CORP.EXAMPLE', 'other_user', { issuedTo: 'CORP\\alice' });
  await expectVerdict(downLevel, 'corp\\ALICE', 'valid', { issuedTo: 'CORP\\alice' });
});

test('a token bound to ws01 holds on ws01 (as the host names it) and not on ws02', async () => {
  const token = await approve(key, 'alice@corp.example', { extra: ['--machine', 'ws01.corp.example'] });
  await expectVerdict(token, reported.aliceSssd.principal, 'valid', { machine: reported.aliceSssd.fqdn, issuedTo: 'alice@corp.example' });
  await expectVerdict(token, reported.aliceSssd.principal, 'valid', { machine: reported.aliceSssd.fqdn.toUpperCase(), issuedTo: 'alice@corp.example' });
  await expectVerdict(token, reported.aliceSssd.principal, 'other_machine', { machine: reported.ws02.fqdn, issuedTo: 'alice@corp.example' });
});
