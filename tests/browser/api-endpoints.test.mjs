// Issue 12: the APIs and upload endpoints of catalogued services. An allowed page (or a
// bookmarklet or script on one) must not be able to send mail, upload a file or post a message
// through a blocked service's API without opening its UI. Each call is made from an allowed page
// as a fetch, an upload (fetch POST) and a form POST into a frame, under the embedded default
// policy; the API host must see zero HTTP requests and zero TCP/TLS connections at the stand-in
// server. A last test shows the path rules on the shared Google API host are paths, not the host:
// another API there is reached.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openScenario } from './lib/harness.mjs';
import { ALLOWED_PAGE, sendFromAllowedPage, settle } from './lib/probes.mjs';

/** [what, URL, the host it reaches] — every URL is one the engine decides `block`. */
const CASES = [
  ['Gmail API: send', 'https://gmail.googleapis.com/gmail/v1/users/me/messages/send', 'gmail.googleapis.com'],
  ['Gmail API on the shared host: send with an attachment', 'https://www.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=multipart', 'www.googleapis.com'],
  ['Drive API on the shared host: upload', 'https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart', 'www.googleapis.com'],
  ['Drive API: upload', 'https://drive.googleapis.com/upload/drive/v3/files?uploadType=media', 'drive.googleapis.com'],
  ['Dropbox API: upload', 'https://content.dropboxapi.com/2/files/upload', 'content.dropboxapi.com'],
  ['Box API: upload', 'https://upload.box.com/api/2.0/files/content', 'upload.box.com'],
  ['Box API: new version', 'https://api.box.com/2.0/files/1/content', 'api.box.com'],
  ['OneDrive personal API: upload', 'https://api.onedrive.com/v1.0/drive/root:/report.pdf:/content', 'api.onedrive.com'],
  ['Telegram Bot API: send a file', 'https://api.telegram.org/bot1:token/sendDocument?chat_id=1', 'api.telegram.org'],
];

const apiHosts = [...new Set(CASES.map(([, , host]) => host))];

let s;
let engineReady;
before(async () => {
  // Every API host goes to the sentinel server: nothing may reach it until the control test.
  s = await openScenario('api-endpoints', { policy: null, host: false, sentinelHosts: apiHosts });
  engineReady = await s.waitFor((st) => st.readyMs && st.prediction === 'off', 'the worker ready with prediction off');
});
after(async () => s?.close());

/** What reached the sentinel since its last reset: connections (any SNI, silent preconnects
 * included: only the API hosts are routed there) and requests for `host`. */
function contact(host) {
  const same = (h) => (h ?? '').replace(/\.$/, '') === host;
  return {
    connections: s.sentinel.connections.length,
    requests: s.sentinel.requests.filter((r) => same(r.host)).map((r) => `${r.method} ${r.host}${r.url}`),
  };
}

for (const [what, url, host] of CASES) {
  test(`${what}: ${url} from an allowed page — no response, nothing reaches ${host}`, async () => {
    assert.ok(engineReady);
    s.sentinel.reset();
    const start = s.web.requests.length;
    const seen = await sendFromAllowedPage(s, url, ['fetch', 'upload', 'form_post']);
    await settle();
    assert.deepEqual(contact(host), { connections: 0, requests: [] },
      `nothing reached ${host}; the page saw ${JSON.stringify(seen)}`);
    assert.equal(seen.fetch.ok, false, `fetch gets no response: ${seen.fetch.detail}`);
    assert.equal(seen.upload.ok, false, `upload gets no response: ${seen.upload.detail}`);
    assert.ok(s.web.requests.slice(start).some((r) => r.host === new URL(ALLOWED_PAGE).hostname), 'the allowed page itself was served');
  });
}

test('another API on the shared Google host (Calendar) is reached: the Gmail and Drive rules are paths', async () => {
  assert.ok(engineReady);
  s.sentinel.reset();
  const { fetch: seen } = await sendFromAllowedPage(s, 'https://www.googleapis.com/calendar/v3/users/me/calendarList', ['fetch']);
  await settle();
  assert.equal(seen.ok, true, `the fetch completes: ${seen.detail}`);
  assert.deepEqual(contact('www.googleapis.com').requests, ['GET www.googleapis.com/calendar/v3/users/me/calendarList']);
});
