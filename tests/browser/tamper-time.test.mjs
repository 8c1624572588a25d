// Issue 9, finding 13: the adaptation switch is one instant for the whole department. A date in
// the policy is midnight in the policy's `timeZone`, never on the desk's own clock, so a user
// who starts the browser with their own `TZ` (or changes the Windows time zone, which standard
// users may do) cannot move "block from" by a single minute.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario } from './lib/harness.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

/**
 * A policy whose webmail switch falls at midnight (UTC−10) of the UTC date 14 hours from now, so
 * the switch is still ahead (between 0 and 24 hours away). A desk at UTC+14 reading the same date
 * as its own midnight would already be past it: that is the walk-around this test closes.
 */
function policyWithSwitchAhead(nowMs = Date.now()) {
  const date = new Date(nowMs + 14 * 3_600_000).toISOString().slice(0, 10);
  const switchMs = Date.parse(`${date}T00:00:00-10:00`);
  assert.ok(switchMs > nowMs && switchMs - nowMs <= 24 * 3_600_000, 'the switch is within the next day');
  return { timeZone: '-10:00', categories: { webmail: { mode: 'block', adaptationEnd: date } } };
}

for (const tz of ['Etc/GMT-14', 'Etc/GMT+12']) {
  test(`a desk time zone of ${tz} does not move the adaptation switch`, async () => {
    const s = await openScenario(`tz-${tz.replace(/\W/g, '')}`, {
      policy: policyWithSwitchAhead(),
      host: true,
      env: { TZ: tz },
    });
    try {
      await s.waitForEnforced((st) => st.policy?.source === 'managed', 'managed policy');
      const { page, url } = await s.visit(GMAIL);
      // The browser really runs on the user's zone (the finding's precondition).
      const offset = await page.evaluate(() => new Date().getTimezoneOffset());
      assert.equal(offset, tz === 'Etc/GMT-14' ? -14 * 60 : 12 * 60, 'the browser runs in the user-set TZ');
      assert.equal(url, s.blockUrl(GMAIL));
      assert.equal(await blockPageReady(page), 'ready');
      assert.equal(await page.locator('body').getAttribute('data-action'), 'warn',
        'still in the adaptation period: warn, not block');
      const status = await s.status();
      assert.deepEqual(status.policy?.warnings ?? [], [], 'the policy (with its time zone) is clean');
    } finally {
      await s.close();
    }
  });
}
