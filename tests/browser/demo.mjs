#!/usr/bin/env node
// `cargo xtask demo` runs this after building: Chromium with the built extension, a throwaway
// profile, the native host registered for that profile, and no managed policy — so the embedded
// default applies (every category blocked on every machine).
//
//   with $DISPLAY   a browser window opens on a few catalogue services; close it to end the demo.
//   without one     headless: the same pages are visited (through local stand-in servers, as the
//                   tests do) and screenshots of what the user would see are saved to a folder,
//                   printed at the end. Folder: $GATEHOUSE_DEMO_OUT or target/demo.
//
// Environment as for the tests: GATEHOUSE_EXTENSION_DIR, GATEHOUSE_HOST_BIN, CHROMIUM.

import fs from 'node:fs';
import path from 'node:path';
import { REPO, blockPageReady, config, hostAvailable, openScenario } from './lib/harness.mjs';

const PAGES = [
  { name: 'webmail-gmail', url: 'https://mail.google.com/mail/u/0/#inbox' },
  { name: 'webmail-outlook', url: 'https://outlook.live.com/mail/0/' },
  { name: 'cloud-storage-dropbox', url: 'https://www.dropbox.com/home' },
  { name: 'cloud-storage-google-drive', url: 'https://drive.google.com/drive/my-drive' },
  { name: 'instant-messaging-whatsapp', url: 'https://web.whatsapp.com/' },
  { name: 'instant-messaging-telegram', url: 'https://web.telegram.org/a/' },
  { name: 'allowed-gov-hk', url: 'https://www.gov.hk/en/residents/' },
];

const windowed = !!process.env.DISPLAY;
const lang = process.env.GATEHOUSE_DEMO_LANG; // e.g. zh-TW
const out = path.resolve(process.env.GATEHOUSE_DEMO_OUT || path.join(REPO, 'target', 'demo'));

async function main() {
  const host = hostAvailable();
  console.log(`extension: ${config.extensionDir}`);
  console.log(`native host: ${host ? config.hostBin : 'not built — running without it (enforcement stays on, fail closed)'}`);
  console.log('policy: the embedded default (no managed policy): every category blocked');
  // Non-root desktops cannot enter a mount namespace, and the demo needs no managed policy.
  const s = await openScenario('demo', {
    policy: null,
    host,
    namespace: false,
    standIns: !windowed,
    headless: !windowed,
    lang,
  });
  try {
    await s.waitFor((st) => st.readyMs, 'the extension to be ready', 30_000);
    if (windowed) {
      const first = s.context.pages()[0] ?? await s.context.newPage();
      await first.goto(s.extensionUrl('status.html'));
      for (const p of PAGES) await (await s.context.newPage()).goto(p.url).catch(() => {});
      console.log('A Chromium window is open with Gatehouse and a tab per example service. Close it to end the demo.');
      await new Promise((resolve) => s.context.once('close', resolve));
      return;
    }
    fs.mkdirSync(out, { recursive: true });
    for (const p of PAGES) {
      const { page } = await s.visit(p.url);
      const blocked = page.url().includes('/block.html#');
      if (blocked) await blockPageReady(page);
      const file = path.join(out, `${p.name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`${blocked ? 'blocked' : 'allowed'}  ${p.url}  →  ${file}`);
      await page.close();
    }
    const status = await s.context.newPage();
    await status.goto(s.extensionUrl('status.html'));
    await status.waitForSelector('body[data-state="ready"]');
    await status.screenshot({ path: path.join(out, 'status-page.png'), fullPage: true });
    console.log(`\nScreenshots of the block pages and the status page are in:\n${out}`);
  } finally {
    await s.close();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err?.message ?? err}`);
  process.exitCode = 1;
});
