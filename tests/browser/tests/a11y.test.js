// Accessibility: axe-core on every screen (Overview with a range message, Campaigns and Form Abandonment too), desktop and phone, light and dark colour scheme (Settings: a11y-settings.test.js).
// Fails on any `critical` or `serious` violation and prints every violation it found.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, screenshot, go, waitDrawer, DESKTOP, PHONE,
} from '../lib/harness.js';
import { seed } from '../lib/seed.js';
import { auditScreen } from '../lib/axe.js';

const ADMIN = 'a11y-admin-key';
const INGEST = 'a11y-ingest-key';
const PUBLIC = 'a11y-public-key';

let server; let browser; let ids; let quarantinedId;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST, publicKey: PUBLIC });
  const stages = await server.api.stages();
  ids = await seed(server.api, stages, 30);
  // A refused postback (not JSON) and a quarantined lead (honeypot), so the Postback Log and the Quarantine filter have rows.
  const bad = await fetch(`${server.base}/api/postback`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': INGEST }, body: '{"email": "cut@off.example"' });
  assert.equal(bad.status, 400);
  const hp = await fetch(`${server.base}/api/postback?key=${PUBLIC}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ email: 'bot@spam.example', _gotcha: 'x' }) });
  assert.equal(hp.status, 202);
  const q = await server.api.listAll({ quarantine: 'only' });
  assert.equal(q.length, 1, 'one quarantined lead');
  quarantinedId = q[0].id;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const SCREENS = [
  { name: 'signin', open: async (p) => { await p.goto(`${server.base}/#/overview`); await p.locator('#admin-key').waitFor(); } },
  { name: 'overview', open: (p) => go(p, server.base, '#/overview', ADMIN) },
  // A custom range from the URL that cannot be used: the inline message is on screen too.
  { name: 'overview-range', open: (p) => go(p, server.base, '#/overview?from=2026-02-30&to=2026-03-01', ADMIN) },
  { name: 'campaigns', open: (p) => go(p, server.base, '#/campaigns', ADMIN) },
  { name: 'abandonment', open: (p) => go(p, server.base, '#/abandonment', ADMIN) },
  { name: 'board', open: (p) => go(p, server.base, '#/board', ADMIN) },
  { name: 'leads', open: (p) => go(p, server.base, '#/leads', ADMIN) },
  { name: 'lead-drawer', open: async (p) => { await go(p, server.base, `#/leads/${ids[21]}`, ADMIN); await waitDrawer(p, ids[21]); } },
  { name: 'docs', open: (p) => go(p, server.base, '#/docs', ADMIN) },
  { name: 'postbacks', open: (p) => go(p, server.base, '#/postbacks', ADMIN) },
  { name: 'postbacks-quarantined', open: (p) => go(p, server.base, '#/postbacks?status=quarantined', ADMIN) },
  { name: 'leads-quarantine', open: (p) => go(p, server.base, '#/leads?quarantine=only', ADMIN) },
  { name: 'lead-drawer-quarantined', open: async (p) => { await go(p, server.base, `#/leads/${quarantinedId}?quarantine=only`, ADMIN); await waitDrawer(p, quarantinedId); } },
];

for (const [vpName, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  for (const colorScheme of ['light', 'dark']) {
    test(`axe: no critical or serious violations on every screen (${vpName}, ${colorScheme})`, async () => {
      // bypassCSP: the page's CSP (script-src 'self') would refuse the injected axe script.
      const { context, page } = await newPage(browser, { viewport, colorScheme, bypassCSP: true });
      const failures = [];
      const report = [];
      try {
        for (const screen of SCREENS) {
          if (screen.name === 'signin') await page.evaluate(() => sessionStorage.clear()).catch(() => {});
          await screen.open(page);
          await auditScreen(page, screen.name, { vpName, colorScheme }, { report, failures });
          if (colorScheme === 'dark' || screen.name.startsWith('lead-drawer')) {
            await screenshot(page, `${vpName}-${colorScheme}-${screen.name}`, { fullPage: !screen.name.startsWith('lead-drawer') });
          }
        }
      } finally {
        await context.close();
      }
      if (report.length) console.log(`# axe (${vpName}, ${colorScheme}) minor findings:\n${report.join('\n')}`);
      assert.equal(failures.length, 0, `axe violations:\n${failures.join('\n')}`);
    });
  }
}
