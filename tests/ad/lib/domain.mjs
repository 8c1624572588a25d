// The real domain the tests in tests/ad/ run against, as set up by tests/ad/domain.sh, and the
// ways to act on it: the native host spoken to over real pipes as a given user on a given
// machine, the gatehouse CLI, the domain controller stopped and started.
//
// Environment (set by tests/ad/run.sh):
//   GATEHOUSE_AD_DIR    the folder `domain.sh up` filled (domain.env: holder pids, uids, caches)
//   GATEHOUSE_HOST_BIN  the native host (target/debug/gatehouse-host)
//   GATEHOUSE_CLI_BIN   the admin CLI (target/debug/gatehouse)

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');
const DOMAIN_SH = path.join(REPO, 'tests/ad/domain.sh');
const run = promisify(execFile);

function readEnvFile(file) {
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
  }
  return out;
}

const dir = process.env.GATEHOUSE_AD_DIR;
if (!dir || !fs.existsSync(path.join(dir, 'domain.env'))) {
  throw new Error('GATEHOUSE_AD_DIR does not name a domain set up by tests/ad/domain.sh: run tests/ad/run.sh (or cargo xtask test)');
}
const env = readEnvFile(path.join(dir, 'domain.env'));

export const bins = {
  host: process.env.GATEHOUSE_HOST_BIN || path.join(REPO, 'target/debug/gatehouse-host'),
  cli: process.env.GATEHOUSE_CLI_BIN || path.join(REPO, 'target/debug/gatehouse'),
};

/** The domain: its names, machines and users. */
export const domain = {
  dir,
  realm: env.REALM, // CORP.EXAMPLE
  name: env.DOMAIN, // corp.example
  machines: {
    ws01: { pid: Number(env.WS01_PID), fqdn: `ws01.${env.DOMAIN}`, joined: true },
    ws02: { pid: Number(env.WS02_PID), fqdn: `ws02.${env.DOMAIN}`, joined: false },
  },
  users: Object.fromEntries(['alice', 'bob', 'mallory'].map((u) => [u, {
    name: u,
    upn: `${u}@${env.DOMAIN}`, // what SSSD calls the user: alice@corp.example
    krbPrincipal: `${u}@${env.REALM}`, // what the ticket says: alice@CORP.EXAMPLE
    uid: Number(env[`${u.toUpperCase()}_UID`]),
    gid: Number(env[`${u.toUpperCase()}_GID`]),
    ccache: env[`${u.toUpperCase()}_CCACHE`],
    password: env[`${u.toUpperCase()}_PASSWORD`],
  }])),
  /** The approval desk's pieces in the directory (domain.sh `desk_setup`). */
  desk: {
    fqdn: env.DESK_FQDN, // desk.corp.example
    spn: env.DESK_SPN, // HTTP/desk.corp.example
    keytab: env.DESK_KEYTAB, // HTTP/desk.corp.example: the desk's Negotiate
    clientKeytab: env.DESK_CLIENT_KEYTAB, // desksvc: the desk's Kerberos bind to the directory
    bind: env.DESK_BIND, // desksvc@corp.example
    passwordFile: env.DESK_PASSWORD_FILE,
    caFile: env.DC_CA, // the CA of the DC's LDAPS certificate
    baseDn: env.BASE_DN,
    approversGroup: env.APPROVERS_GROUP_DN, // bob is in it through nestedGroup only
    nestedGroup: env.NESTED_GROUP_DN,
  },
};

/** Runs domain.sh (dc-stop, dc-start). */
async function domainSh(...args) {
  await run(DOMAIN_SH, [...args], { timeout: 90_000 });
}
export const dc = {
  stop: () => domainSh('dc-stop', dir),
  start: () => domainSh('dc-start', dir),
};

/**
 * The command line that runs `argv` on `machine` as `user` (a domain user name, or null for
 * root, a local account): nsenter into the machine's namespaces, setpriv to the domain uid.
 */
export function commandOn(machine, user, argv) {
  const m = domain.machines[machine];
  if (!m) throw new Error(`no machine ${machine}`);
  const ns = ['nsenter', '-t', String(m.pid), '-m', '-n', '-u'];
  if (!user) return [...ns, ...argv];
  const u = domain.users[user];
  return [...ns, 'setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', '--', ...argv];
}

/** A scratch folder the given user owns (HOME, approvals and audit folders of one host run). */
export function scratchFor(user, label) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `gatehouse-ad-${label}-`));
  fs.chmodSync(d, 0o755);
  if (user) fs.chownSync(d, domain.users[user].uid, domain.users[user].gid);
  return d;
}

/**
 * Starts the real native host on `machine` as `user`, over pipes, with a minimal environment
 * (what Chromium would give it: PATH, HOME, USER) plus `extraEnv`. Returns a client that speaks
 * the protocol (32-bit native-endian length + UTF-8 JSON).
 */
export function startHost({ machine = 'ws01', user = null, extraEnv = {} } = {}) {
  const scratch = scratchFor(user, `host-${machine}-${user ?? 'root'}`);
  const childEnv = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: scratch,
    USER: user ? domain.users[user].upn : 'root',
    GATEHOUSE_SYSLOG: '0',
    GATEHOUSE_AUDIT_DIR: path.join(scratch, 'audit'),
    GATEHOUSE_APPROVALS_DIR: path.join(scratch, 'approvals-machine'),
    GATEHOUSE_USER_APPROVALS_DIR: path.join(scratch, 'approvals-user'),
    // No ticket unless the test gives one (the default /tmp/krb5cc_<uid> is the real /tmp).
    KRB5CCNAME: `FILE:${path.join(scratch, 'no-ticket')}`,
    ...extraEnv,
  };
  const [cmd, ...args] = commandOn(machine, user, [bins.host, 'chrome-extension://gkjfgifemhclilaggdnjbnagnbpgaikk/']);
  const child = spawn(cmd, args, { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let buffer = Buffer.alloc(0);
  let stderr = '';
  const waiting = [];
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => {
    buffer = Buffer.concat([buffer, d]);
    while (buffer.length >= 4) {
      const n = buffer.readUInt32LE(0);
      if (buffer.length < 4 + n) break;
      const msg = JSON.parse(buffer.subarray(4, 4 + n).toString('utf8'));
      buffer = buffer.subarray(4 + n);
      const w = waiting.shift();
      if (w) w.resolve(msg);
    }
  });
  child.on('exit', () => {
    for (const w of waiting.splice(0)) w.reject(new Error(`gatehouse-host exited before replying; stderr: ${stderr}`));
  });
  let nextId = 1;
  return {
    scratch,
    /** Sends one request and returns the reply's `data`; an error reply throws. */
    async request(type, params = {}, timeoutMs = 10_000) {
      const id = nextId++;
      const body = Buffer.from(JSON.stringify({ v: 1, id, type, ...params }), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(body.length, 0);
      const reply = new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        setTimeout(() => reject(new Error(`no reply to ${type} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs).unref();
      });
      child.stdin.write(Buffer.concat([len, body]));
      const msg = await reply;
      if (msg.id !== id) throw new Error(`reply id ${msg.id} for request ${id}`);
      if (!msg.ok) throw new Error(`${type}: host error ${JSON.stringify(msg.error)}`);
      return msg.data;
    },
    /** Closes stdin (the browser closing the port) and returns the exit status. */
    async close() {
      child.stdin.end();
      const status = await exited;
      fs.rmSync(scratch, { recursive: true, force: true });
      return { ...status, stderr };
    },
  };
}

/** One request to a fresh host process (Chrome's sendNativeMessage mode). */
export async function askHost(type, params = {}, where = {}) {
  const h = startHost(where);
  try {
    return await h.request(type, params);
  } finally {
    const { code } = await h.close();
    if (code !== 0) throw new Error(`gatehouse-host exited with ${code} after a clean end of input`);
  }
}

/** Runs the gatehouse CLI; returns {code, stdout, stderr} (never throws on a non-zero exit). */
export async function gatehouse(args, { cwd, input } = {}) {
  return new Promise((resolve, reject) => {
    // No input: no stdin pipe at all. Writing to one that a fast-exiting CLI never reads raced
    // into an uncaught EPIPE (seen once in CI).
    const child = spawn(bins.cli, args, { cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) {
      // A CLI that exits before reading all of its input is judged by its exit status.
      child.stdin.on('error', (err) => { if (err.code !== 'EPIPE') reject(err); });
      child.stdin.end(input);
    }
  });
}

/** `gatehouse keygen`: a fresh approver key in `folder`; returns {privateKey, publicJwk}. */
export async function approverKey(folder, kid = 'corp-hr-2026') {
  const privateKey = path.join(folder, `${kid}.private.jwk`);
  const r = await gatehouse(['keygen', '--kid', kid, '--out', privateKey]);
  if (r.code !== 0) throw new Error(`gatehouse keygen failed (${r.code}): ${r.stderr}`);
  return { privateKey, publicJwk: JSON.parse(r.stdout.trim().split('\n')[0]) };
}

/** `gatehouse approve`: a token for `principal`, covering `services`. */
export async function approve(key, principal, { services = ['gmail'], days = 30, extra = [] } = {}) {
  const args = ['approve', '--key', key.privateKey, '--user', principal, '--days', String(days),
    '--purpose', 'Correspondence with an overseas partner', ...services.flatMap((s) => ['--service', s]), ...extra];
  const r = await gatehouse(args);
  if (r.code !== 0) throw new Error(`gatehouse approve failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** `gatehouse inspect --json`: verify `token` under `policyFile` for a user (and machine). */
export async function inspect(token, policyFile, { user, machine, url } = {}) {
  const args = ['inspect', '--json', '--policy', policyFile];
  if (user !== undefined) args.push('--user', user);
  if (machine !== undefined) args.push('--machine', machine);
  if (url !== undefined) args.push('--url', url);
  args.push('-');
  const r = await gatehouse(args, { input: token });
  let verdict;
  try {
    verdict = JSON.parse(r.stdout);
  } catch {
    throw new Error(`gatehouse inspect printed no JSON (exit ${r.code}): ${r.stdout} ${r.stderr}`);
  }
  return { ...verdict, exitCode: r.code };
}

/** Milliseconds since `start`, for the timings the suite reports. */
export function since(start) {
  return Date.now() - start;
}
