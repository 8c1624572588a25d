// Issue 9, findings 2 and 6, in Chromium with the product host (no test hooks) registered as
// deployed: the person at the desk controls the browser's environment and their own folders.
//
// - Finding 2: GATEHOUSE_IDENTITY_ROOT pointing at a fake "joined" tree, GATEHOUSE_AUDIT_DIR at a
//   folder of theirs and GATEHOUSE_SYSLOG=0 in the browser's environment change nothing: the
//   host's identity and network answers are the ones the same binary gives in a clean
//   environment over pipes, and nothing is written to the given folder.
// - Finding 6: FIFOs planted in the user's approvals folder and as the audit copy do not freeze
//   the host: it answers within a second, and a blocked navigation's audit event still reaches
//   the system log.
//
// "The system log" is a datagram socket served by lib/syslog.mjs and mounted at /dev/log in the
// browser's own mount namespace (the machine has no /dev/log), so the host runs its product
// code path. Environment as for every browser test, plus GATEHOUSE_PRODUCT_HOST_BIN (set by
// `cargo xtask test`; default target/product/gatehouse-host, the copy `cargo xtask build` checks).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { REPO, blockPageReady, openScenario } from './lib/harness.mjs';
import { startSyslog } from './lib/syslog.mjs';

const PRODUCT_HOST = process.env.GATEHOUSE_PRODUCT_HOST_BIN || path.join(REPO, 'target/product/gatehouse-host');
// A missing product host is a failure, never a skip: these are the tests of the binary desktops run.
if (!fs.existsSync(PRODUCT_HOST)) throw new Error(`no product host at ${PRODUCT_HOST} (cargo xtask build)`);
const HOST_NAME = 'org.gatehouse.host';

const cleanups = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

function scratch(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gatehouse-${name}-`));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The host binary over pipes, as Chrome runs it: the replies to `requests`, in order. */
function askOverPipes(bin, requests, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['chrome-extension://test/'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    const timer = setTimeout(() => { child.kill(); reject(new Error(`${bin} did not answer in 10 s`)); }, 10_000);
    let buf = Buffer.alloc(0);
    const replies = [];
    child.stdout.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const len = buf.readUInt32LE(0);
        replies.push(JSON.parse(buf.subarray(4, 4 + len).toString('utf8')));
        buf = buf.subarray(4 + len);
        if (replies.length === requests.length) {
          clearTimeout(timer);
          child.stdin.end();
          resolve(replies);
        }
      }
    });
    child.on('error', reject);
    for (const r of requests) {
      const body = Buffer.from(JSON.stringify(r));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(body.length);
      child.stdin.write(Buffer.concat([len, body]));
    }
  });
}

/** One request through the browser (the extension's worker, chrome.runtime.sendNativeMessage). */
async function askFromBrowser(s, request) {
  const sw = await s.worker();
  return sw.evaluate(async ([name, req]) => {
    const started = performance.now();
    const reply = await chrome.runtime.sendNativeMessage(name, req);
    return { reply, ms: performance.now() - started };
  }, [HOST_NAME, request]);
}

/** The environment without any GATEHOUSE_* variable. */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_')));
}

function mkfifo(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  execFileSync('mkfifo', [file]);
}

/** A token-shaped string (the host checks shape only) and the file name the host gives it. */
function tokenAndName() {
  const b64 = (v) => Buffer.from(v).toString('base64url');
  const token = `${b64('{"alg":"EdDSA","kid":"k"}')}.${b64('{}')}.${b64(crypto.randomBytes(64))}`;
  const name = `${crypto.createHash('sha256').update(token).digest('hex').slice(0, 32)}.jws`;
  return { token, name };
}

test('GATEHOUSE_* in the browser\'s environment changes nothing: real identity and network, nothing in the given audit folder', async () => {
  const work = scratch('tamper-env');
  // A tree that claims this machine is ws01, joined to corp.example.
  const fakeRoot = path.join(work, 'fake-root');
  fs.cpSync(path.join(REPO, 'native-host/tests/fixtures/identity/sssd-joined'), fakeRoot, { recursive: true });
  const givenAudit = path.join(work, 'audit-given');
  fs.mkdirSync(givenAudit);
  const syslog = await startSyslog(path.join(work, 'syslog.sock'));
  cleanups.push(() => syslog.close());

  const asked = [{ v: 1, id: 1, type: 'identity' }, { v: 1, id: 2, type: 'network' }];
  const [cleanIdentity, cleanNetwork] = await askOverPipes(PRODUCT_HOST, asked, cleanEnv());
  assert.equal(cleanIdentity.ok, true, JSON.stringify(cleanIdentity));

  const s = await openScenario('tamper-env', {
    policy: {},
    host: PRODUCT_HOST,
    devLog: syslog.path,
    env: {
      GATEHOUSE_IDENTITY_ROOT: fakeRoot,
      GATEHOUSE_AUDIT_DIR: givenAudit,
      GATEHOUSE_SYSLOG: '0',
      GATEHOUSE_APPROVALS_DIR: path.join(work, 'approvals-given'),
      GATEHOUSE_USER_APPROVALS_DIR: path.join(work, 'approvals-given'),
    },
  });
  cleanups.push(() => s.close());

  const identity = (await askFromBrowser(s, asked[0])).reply;
  assert.deepEqual(identity, cleanIdentity, 'identity as in a clean environment, not the fake tree\'s');
  assert.notEqual(identity.data.domain, 'corp.example');
  const network = (await askFromBrowser(s, asked[1])).reply;
  assert.deepEqual(network.data.addresses, cleanNetwork.data.addresses);
  assert.deepEqual(network.data.dnsSuffixes, cleanNetwork.data.dnsSuffixes, 'resolv.conf is the machine\'s, not the fake tree\'s');

  const marker = `tamper-env-${crypto.randomUUID()}`;
  const audit = (await askFromBrowser(s, { v: 1, id: 3, type: 'audit', event: { kind: 'blocked', url: 'https://mail.google.com/mail/', marker } })).reply;
  assert.equal(audit.ok, true, JSON.stringify(audit));
  assert.equal(audit.data.systemLog, 1, 'GATEHOUSE_SYSLOG=0 did not turn the system log off');
  const logged = await syslog.waitForAudit((e) => e.marker === marker);
  assert.equal(logged.length, 1, 'the event reached the system log');
  assert.equal(logged[0].url, 'https://mail.google.com');
  assert.deepEqual(fs.readdirSync(givenAudit), [], 'nothing was written to the folder GATEHOUSE_AUDIT_DIR named');

  // And the binary itself: the product contains no GATEHOUSE_ string at all.
  assert.equal(fs.readFileSync(PRODUCT_HOST).indexOf('GATEHOUSE_'), -1, `${PRODUCT_HOST} is a test-hooks build`);
});

test('FIFOs in the user\'s approvals folder and as the audit copy: the host answers within a second and the blocked navigation reaches the system log', async () => {
  const work = scratch('tamper-fifo');
  const syslog = await startSyslog(path.join(work, 'syslog.sock'));
  cleanups.push(() => syslog.close());
  // Every catalogue category is blocked for a machine in scope; no scope conditions: every machine is.
  const s = await openScenario('tamper-fifo', { policy: {}, host: PRODUCT_HOST, devLog: syslog.path });
  cleanups.push(() => s.close());

  // The user's own folders, where the product host looks (HOME is the scenario's) — and, for a
  // test-hooks host, the folders the harness points it at.
  const data = path.join(s.dirs.home, '.local/share/gatehouse');
  const { token, name } = tokenAndName();
  for (const [approvals, audit] of [[path.join(data, 'approvals'), path.join(data, 'audit')], [s.hostDirs.userApprovals, s.hostDirs.audit]]) {
    mkfifo(path.join(approvals, 'planted.jws'));
    fs.symlinkSync(path.join(approvals, 'planted.jws'), path.join(approvals, 'link-to-fifo.jws'));
    mkfifo(path.join(approvals, name));
    mkfifo(path.join(audit, 'audit.jsonl'));
  }

  const listed = await askFromBrowser(s, { v: 1, id: 1, type: 'approvals' });
  assert.ok(listed.ms < 1000, `approvals answered in ${Math.round(listed.ms)} ms`);
  assert.equal(listed.reply.ok, true, JSON.stringify(listed.reply));
  const problems = listed.reply.data.problems.map((p) => path.basename(p.file)).sort();
  assert.deepEqual(problems, [name, 'link-to-fifo.jws', 'planted.jws'].sort(), JSON.stringify(listed.reply));

  const imported = await askFromBrowser(s, { v: 1, id: 2, type: 'import_approval', token });
  assert.ok(imported.ms < 1000, `import answered in ${Math.round(imported.ms)} ms`);
  assert.equal(imported.reply.ok, false, 'a FIFO under the token\'s name is not a duplicate');
  assert.equal(imported.reply.error.name, 'io_error');

  const { page, url } = await s.visit('https://mail.google.com/mail/u/0/');
  assert.equal(url, s.blockUrl('https://mail.google.com/mail/u/0/'));
  assert.equal(await blockPageReady(page), 'ready');
  const logged = await syslog.waitForAudit((e) => e.kind === 'blocked' && e.origin === 'https://mail.google.com');
  assert.ok(logged.length >= 1, `the blocked navigation reached the system log; got ${JSON.stringify(syslog.messages).slice(0, 2000)}`);
  assert.equal(logged[0].priority, 4 * 8 + 4, 'facility auth, severity warning');

  const hello = await askFromBrowser(s, { v: 1, id: 3, type: 'hello' });
  assert.ok(hello.ms < 1000 && hello.reply.ok, 'the host still answers');
});
