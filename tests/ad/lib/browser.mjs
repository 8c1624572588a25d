// Chromium as a domain user on ws01, for the AD suite's browser tests: the harness of
// tests/browser with CHROMIUM pointed at lib/chromium-as-user.sh, which drops to the user.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { domain, since } from './domain.mjs';

// The harness reads CHROMIUM when it is loaded: set it first, then load the harness.
const here = path.dirname(fileURLToPath(import.meta.url));
process.env.GATEHOUSE_AD_REAL_CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';
process.env.CHROMIUM = path.join(here, 'chromium-as-user.sh');
export const harness = await import('../../browser/lib/harness.mjs');

/**
 * Opens Chromium as `user` (alice, bob, …) with the host and `options` (openScenario's; `env`
 * is added to the user's) and waits until the extension has the managed policy, the host and the
 * user's identity in force. A failed wait closes the browser before it throws.
 */
export async function browserAs(user, { name = `ad-${user}`, env = {}, ...options } = {}) {
  const u = domain.users[user];
  const t0 = Date.now();
  const s = await harness.openScenario(name, {
    host: true,
    ...options,
    env: { GATEHOUSE_AD_BROWSER_USER: `${u.uid}:${u.gid}:${u.upn}`, ...env },
  });
  try {
    await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected' && st.identity,
      `${user}'s browser: managed policy and host connected`);
  } catch (err) {
    await s.close();
    throw err;
  }
  console.log(`# timing: ${user}'s browser ready in ${since(t0)} ms`);
  return s;
}
