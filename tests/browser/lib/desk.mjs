// The real approval desk (approval-service/, `gatehouse-approval`) for the browser tests: `init`
// into a throwaway folder (SQLite), approvers signed in by a reverse proxy (auth.mode = "proxy":
// the test plays the proxy by sending X-Remote-User and X-Gatehouse-Proxy-Secret), `serve` on
// 127.0.0.1 at a free port, health-checked, stopped by `close()`.
//
// The desk speaks plain HTTP and the extension takes only https for the revocation list, so
// desktops reach it as deployed: through a TLS front (`front`, a small Node reverse proxy with the
// stand-ins' certificate) that, like the department's proxy, drops any sign-in headers a client
// sends. Chromium maps the desk's name to the front (openScenario's `hostPorts`).
//
// Environment: GATEHOUSE_APPROVAL_BIN (set by `cargo xtask test`), else
// target/debug/gatehouse-approval (`cargo build -p gatehouse-approval`).

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, config } from './harness.mjs';

export const approvalBin = process.env.GATEHOUSE_APPROVAL_BIN || path.join(REPO, 'target/debug/gatehouse-approval');

export function approvalAvailable() {
  return fs.existsSync(approvalBin);
}

/** The headers the department's reverse proxy adds for a signed-in user (all lowercase: what it strips). */
const USER_HEADER = 'x-remote-user';
const SECRET_HEADER = 'x-gatehouse-proxy-secret';

function run(args) {
  try {
    return execFileSync(approvalBin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    throw new Error(`gatehouse-approval ${args.join(' ')} failed (${err.status}):\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const tomlString = (s) => JSON.stringify(s); // a TOML basic string is a JSON string for these values

/**
 * Starts a desk.
 * @param {object} o
 * @param {string} o.publicUrl      the address desktops use (status URLs are built from it)
 * @param {object} o.approvers      `{all: [...], categories: {category: [...]}, groups: [DN...],
 *                                  categoryGroups: {category: [DN...]}}` (the [approvers] table)
 * @param {object} [o.negotiate]    `{keytab, requireRequester, passwordSignIn}`: the desk does
 *                                  Kerberos itself (auth.mode = "negotiate") instead of trusting the
 *                                  proxy's headers; passwordSignIn: also the LDAP-bind form
 * @param {object} [o.directory]    the [directory] table, keys as in the TOML (url, base_dn, …)
 * @param {(keys: object[]) => object} [o.policy] the department policy, given the desk's public
 *                                  keys; written to a file the desk reads (`policy`)
 * @param {{key, cert}} [o.tls]     start the TLS front with this certificate
 */
export async function startDesk({ publicUrl, approvers, policy, tls, negotiate, directory } = {}) {
  if (!approvalAvailable()) throw new Error(`no gatehouse-approval at ${approvalBin} (cargo build -p gatehouse-approval, or set GATEHOUSE_APPROVAL_BIN)`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-desk-'));
  const dataDir = path.join(root, 'desk');
  const startedMs = Date.now();
  run(['init', '--data-dir', dataDir, '--public-url', publicUrl, '--kid', 'desk-test']);
  const configFile = path.join(dataDir, 'gatehouse-approval.toml');
  const keys = JSON.parse(run(['keys', '-c', configFile])).approvals.keys;

  const secret = crypto.randomBytes(24).toString('hex');
  fs.writeFileSync(path.join(dataDir, 'proxy-secret'), `${secret}\n`, { mode: 0o600 });
  const port = await freePort();
  let text = fs.readFileSync(configFile, 'utf8').replace(/^listen = .*$/m, `listen = "127.0.0.1:${port}"`);
  let policyFile = null;
  if (policy) {
    policyFile = path.join(root, 'policy.json');
    fs.writeFileSync(policyFile, JSON.stringify(policy(keys), null, 2));
    text = text.replace(/^# policy = .*$/m, `policy = ${tomlString(policyFile)}`);
  }
  const list = (items) => `[${items.map(tomlString).join(', ')}]`;
  const table = (o) => Object.entries(o ?? {}).map(([k, v]) => `${k} = ${Array.isArray(v) ? list(v) : tomlString(v)}`).join('\n');
  text += negotiate ? `
[auth]
mode = "negotiate"
keytab = ${tomlString(negotiate.keytab)}
require_requester = ${Boolean(negotiate.requireRequester)}
password_sign_in = ${Boolean(negotiate.passwordSignIn)}
` : `
[auth]
mode = "proxy"
user_header = "X-Remote-User"
secret_file = "proxy-secret"
`;
  text += `
[approvers]
all = ${list(approvers?.all ?? [])}
groups = ${list(approvers?.groups ?? [])}
[approvers.categories]
${table(approvers?.categories)}
[approvers.category_groups]
${table(approvers?.categoryGroups)}
${directory ? `[directory]\n${table(directory)}\n` : ''}`;
  fs.writeFileSync(configFile, text);

  const log = [];
  const child = spawn(approvalBin, ['serve', '-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'info,sqlx=warn' } });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => log.push(chunk));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });
  const url = `http://127.0.0.1:${port}`;
  let front = null;
  const desk = {
    root,
    dataDir,
    configFile,
    policyFile,
    url,
    publicUrl,
    keys,
    /** The headers the reverse proxy sets for `user`. */
    proxyHeaders: (user) => ({ 'X-Remote-User': user, 'X-Gatehouse-Proxy-Secret': secret }),
    /** Everything the desk logged so far. */
    log: () => log.join(''),
    get front() { return front; },
    async close() {
      await front?.close();
      if (exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!config.keep) fs.rmSync(root, { recursive: true, force: true });
      else console.log(`kept ${root}`);
    },
  };
  try {
    for (const deadline = Date.now() + 20_000; ;) {
      if (exit) throw new Error(`gatehouse-approval serve exited (${JSON.stringify(exit)}):\n${desk.log()}`);
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`gatehouse-approval serve did not answer /healthz in 20 s:\n${desk.log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    desk.readyMs = Date.now() - startedMs;
    if (tls) front = await startFront(port, tls);
  } catch (err) {
    await desk.close();
    throw err;
  }
  return desk;
}

/**
 * The TLS reverse proxy in front of the desk: every request forwarded to 127.0.0.1:`port`,
 * minus the sign-in headers (a client must not set them: admin-guide "The approval desk").
 * `requests` lists what passed through: {atMs, method, url, status, ifNoneMatch}.
 */
async function startFront(port, tls) {
  const requests = [];
  const server = https.createServer(tls, (req, res) => {
    const headers = { ...req.headers };
    delete headers[USER_HEADER];
    delete headers[SECRET_HEADER];
    const entry = { atMs: Date.now(), method: req.method, url: req.url, status: null, ifNoneMatch: req.headers['if-none-match'] ?? null };
    requests.push(entry);
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (answer) => {
      entry.status = answer.statusCode;
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      entry.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`desk unreachable: ${err.message}\n`);
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1000;
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    requests,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

/**
 * A browser for the approvers (another machine, as far as the desk can tell): plain Chromium,
 * no extension. `as(user, locale)` is a context whose every request carries the proxy's headers
 * for `user` and Accept-Language for `locale`, addressed to the desk itself.
 */
export async function approverBrowser(desk) {
  const browser = await chromium.launch({ executablePath: config.chromium, args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
  return {
    browser,
    as: (user, locale = 'en-US') => browser.newContext({
      baseURL: desk.url,
      locale,
      extraHTTPHeaders: desk.proxyHeaders(user),
      viewport: { width: 1200, height: 900 },
    }),
    close: () => browser.close().catch(() => {}),
  };
}

/**
 * A joined machine for the native host's identity reader (`GATEHOUSE_IDENTITY_ROOT`, a test-hooks
 * host): native-host's `sssd-joined` fixture (ws01 in corp.example) copied into `dir`, with a
 * passwd that does not list this uid, so the user is a directory account (as approvals.test.mjs).
 * The desk's requests then carry a principal in the approvers' realm.
 */
export function joinedIdentityRoot(dir) {
  fs.cpSync(path.join(REPO, 'native-host/tests/fixtures/identity/sssd-joined'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'localadmin:x:1000:1000:Local Admin,,,:/home/localadmin:/bin/bash\n');
  return dir;
}
