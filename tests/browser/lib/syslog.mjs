// A stand-in for the system log. The host's audit record is the system log (native-host/PROTOCOL.md
// `audit`), and this machine has no /dev/log: a test binds a unix datagram socket here and the
// harness (`openScenario({ devLog })`) mounts it at /dev/log inside the browser's own mount
// namespace, so the host's product code path — the fixed /dev/log, no override — is what runs.
// Node has no AF_UNIX datagram sockets, so a few lines of Python serve it; each datagram becomes
// one JSON string on its stdout.

import { spawn } from 'node:child_process';
import fs from 'node:fs';

const RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

/**
 * Serves a syslog datagram socket at `socketPath`. `messages` collects every datagram (RFC 3164
 * text, e.g. `<36>gatehouse-host[42]: gatehouse-audit {...}`); `audit()` parses Gatehouse's.
 */
export async function startSyslog(socketPath) {
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const child = spawn(python, ['-u', '-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages = [];
  let pending = '';
  await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the syslog stand-in exited (${code})`)));
    child.stdout.on('data', (chunk) => {
      pending += chunk;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (line === 'ready') resolve();
        else messages.push(JSON.parse(line));
      }
    });
  });
  const audit = () => messages
    .map((m) => m.match(/^<(\d+)>gatehouse-host\[\d+\]: gatehouse-audit (\{.*\})$/s))
    .filter(Boolean)
    .map((m) => ({ priority: Number(m[1]), ...JSON.parse(m[2]) }));
  return {
    path: socketPath,
    messages,
    /** Gatehouse audit records received, each with its syslog `priority`. */
    audit,
    /** Polls until `filter` selects an audit record; returns the matches (possibly none). */
    async waitForAudit(filter, timeout = 10_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = audit().filter(filter);
        if (found.length || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close() {
      child.removeAllListeners('exit');
      child.kill();
      fs.rmSync(socketPath, { force: true });
    },
  };
}
