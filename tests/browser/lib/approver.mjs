// Department management's side of an approval, done with the real `gatehouse` CLI
// (admin/APPROVALS.md; the gatehouse-admin crate): an approver key pair, tokens issued from a block-page request file
// or from flags, `inspect` to read what a token says, `revoke` for the policy fragment.
//
// Environment: GATEHOUSE_CLI_BIN (set by `cargo xtask test`), else target/debug/gatehouse next to
// GATEHOUSE_HOST_BIN.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { config } from './harness.mjs';

export const cliBin = process.env.GATEHOUSE_CLI_BIN || path.join(path.dirname(config.hostBin), 'gatehouse');

export function cliAvailable() {
  return fs.existsSync(cliBin);
}

/** Runs the CLI; returns {stdout, stderr}; throws with both when it exits non-zero. */
export function gatehouse(args, { cwd } = {}) {
  try {
    const stdout = execFileSync(cliBin, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return { stdout, stderr: '' };
  } catch (err) {
    throw new Error(`gatehouse ${args.join(' ')} failed (${err.status}):\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

/**
 * An approving office: `gatehouse keygen --kid KID` in `dir`. `publicJwk` is the line keygen
 * prints, for the policy's approvals.keys.
 */
export function makeApprover(dir, kid) {
  fs.mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, `${kid}.private.jwk`);
  const { stdout } = gatehouse(['keygen', '--kid', kid, '--out', keyFile]);
  const publicJwk = JSON.parse(stdout.trim());
  let serial = 0;
  return {
    kid,
    keyFile,
    publicJwk,
    /**
     * `gatehouse approve --key … ARGS --out <dir>/<name>.jws`; returns the token, its file and
     * its claims as `gatehouse inspect` decodes them.
     */
    approve(args, name = `token-${++serial}`) {
      const out = path.join(dir, `${name}.jws`);
      gatehouse(['approve', '--key', keyFile, ...args, '--out', out]);
      const token = fs.readFileSync(out, 'utf8').trim();
      return { token, file: out, claims: inspect(token).decoded.claims };
    },
  };
}

/** `gatehouse inspect TOKEN --json [--policy FILE]` (exit 1 for a rejected token is not an error here). */
export function inspect(token, policyFile = null) {
  const args = ['inspect', token, '--json', ...(policyFile ? ['--policy', policyFile] : [])];
  try {
    return JSON.parse(execFileSync(cliBin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (err) {
    if (err.status === 1 && err.stdout) return JSON.parse(err.stdout);
    throw new Error(`gatehouse inspect failed (${err.status}): ${err.stderr}`);
  }
}

/** `gatehouse revoke JTI… --policy FILE`: the `{approvals: {revoked: […]}}` fragment it prints. */
export function revokeFragment(jtis, policyFile) {
  return JSON.parse(gatehouse(['revoke', ...jtis, '--policy', policyFile]).stdout);
}
