// Accessibility of Settings → Webhooks (its own file: tests/a11y.test.js is near the per-file time limit): axe-core
// on the webhook list with a deliveries panel open, and on the secret shown after adding one through the form,
// desktop and phone, light and dark colour scheme. Fails on any `critical` or `serious` violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, screenshot, go, DESKTOP, PHONE } from '../lib/harness.js';
import { auditScreen } from '../lib/axe.js';

const ADMIN = 'a11y-settings-admin-key';
const INGEST = 'a11y-settings-ingest-key';

let server; let browser;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  const hook = await server.api.call('POST', '/api/webhooks', { key: ADMIN, body: { url: 'https://hooks.example.com/a11y', events: ['lead.created'] } });
  assert.equal(hook.status, 201);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const SCREENS = [
  { name: 'settings', open: async (p) => {
    await go(p, server.base, '#/settings', ADMIN);
    await p.locator('[data-action="toggle-deliveries"]').first().click();
    await p.locator('.deliveries-panel .state-empty').first().waitFor();
  } },
  { name: 'settings-secret', open: async (p) => {
    await go(p, server.base, '#/settings', ADMIN);
    await p.getByLabel('Endpoint URL').fill('https://hooks.example.com/a11y-form');
    await p.getByLabel('Format').selectOption('tiktok');
    await p.getByLabel(/TikTok pixel code/).fill('C4A11Y');
    await p.locator('[data-action="add-webhook"]').click();
    await p.locator('[data-testid="webhook-secret-card"]').waitFor();
  } },
];

for (const [vpName, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  for (const colorScheme of ['light', 'dark']) {
    test(`axe: Settings has no critical or serious violations (${vpName}, ${colorScheme})`, async () => {
      const { context, page } = await newPage(browser, { viewport, colorScheme, bypassCSP: true });
      const failures = [];
      const report = [];
      try {
        for (const screen of SCREENS) {
          await screen.open(page);
          await auditScreen(page, screen.name, { vpName, colorScheme }, { report, failures });
          await screenshot(page, `${vpName}-${colorScheme}-${screen.name}`);
        }
      } finally {
        await context.close();
      }
      if (report.length) console.log(`# axe (${vpName}, ${colorScheme}) minor findings:\n${report.join('\n')}`);
      assert.equal(failures.length, 0, `axe violations:\n${failures.join('\n')}`);
    });
  }
}
