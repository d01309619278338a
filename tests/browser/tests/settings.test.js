// Settings → Webhooks: add a webhook through the form, read its secret once (then never again), see it listed,
// and delete it; and (once the local worker is merged) post a lead and watch its delivery reach a local receiver and appear in the deliveries panel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launchBrowser, newPage, screenshot, go } from '../lib/harness.js';

const ADMIN = 'settings-admin-key';
const INGEST = 'settings-ingest-key';

let server; let browser; let page; let receiver;
const received = [];

before(async () => {
  // A local receiver that accepts every delivery and remembers its headers and body.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  browser = await launchBrowser();
  ({ page } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r()));
});

test('a webhook is added with its secret shown once, listed without it, and deleted', async () => {
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook?<b>x</b>`;
  await go(page, server.base, '#/settings', ADMIN);
  assert.equal(await page.locator('nav a[data-route="settings"]').getAttribute('aria-current'), 'page');
  await page.locator('[data-testid="webhook-list"] .state-empty').waitFor();

  // A refused URL: the API's reason is shown and the field is marked.
  await page.getByLabel('Endpoint URL').fill('http://hooks.example.com/x');
  await page.locator('[data-action="add-webhook"]').click();
  await page.locator('[data-testid="webhook-form-error"]', { hasText: 'https' }).waitFor();
  assert.equal(await page.getByLabel('Endpoint URL').getAttribute('aria-invalid'), 'true');

  await page.getByLabel('Endpoint URL').fill(hookUrl);
  // lead.created and lead.stage_changed are ticked by default; filter on the first stage.
  const stages = await server.api.stages();
  await page.locator('[data-testid="wh-stages"] input[type=checkbox]').first().waitFor();
  await page.getByLabel(stages[0], { exact: true }).check();
  await page.getByLabel('Format').selectOption('tiktok');
  assert.ok(await page.getByLabel(/TikTok pixel code/).isVisible(), 'TikTok asks for its pixel code');
  const consent = page.getByLabel('Only send leads who gave ad_user_data consent');
  assert.ok(await consent.isVisible() && await consent.isChecked(), 'ad platforms need consent unless unticked');
  await consent.scrollIntoViewIfNeeded();
  await screenshot(page, 'settings-webhook-consent', { fullPage: false });
  await page.getByLabel('Format').selectOption('standard');
  assert.ok(!(await page.getByLabel(/TikTok pixel code/).isVisible()));
  assert.ok(!(await consent.isVisible()), 'your own endpoint gets the consent inside each lead');
  await page.locator('[data-action="add-webhook"]').click();

  // The secret, once, with the warning; focus moved to it.
  const secretCard = page.locator('[data-testid="webhook-secret-card"]');
  await secretCard.waitFor();
  const secret = await page.locator('[data-testid="webhook-secret"]').inputValue();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.match(await secretCard.innerText(), /won't see this secret again/);
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'secret-title');
  await screenshot(page, 'settings-secret');

  // Listed, without the secret; the URL is shown as text, not markup.
  const item = page.locator('.webhook-item');
  await item.first().waitFor();
  assert.equal(await item.count(), 1);
  assert.equal(await item.locator('[data-testid="webhook-url"]').innerText(), hookUrl.replace('<b>x</b>', '%3Cb%3Ex%3C/b%3E'));
  assert.equal(await page.locator('#content b').count(), 0, 'no markup from the URL');
  assert.equal(await item.locator('[data-testid="webhook-status"]').innerText(), 'Enabled');
  assert.match(await item.innerText(), new RegExp(`Stages\\s*${stages[0]}`));
  const list = await server.api.call('GET', '/api/webhooks', { key: ADMIN });
  assert.equal(list.status, 200);
  assert.ok(!JSON.stringify(list.json).includes(secret), 'the API never shows the secret again');

  // Dismissing the secret removes it from the page.
  await page.locator('[data-action="dismiss-secret"]').click();
  assert.equal(await page.locator('[data-testid="webhook-secret"]').count(), 0);
  assert.ok(!(await page.content()).includes(secret), 'the secret is gone from the page');

  // Delete, confirming in the dialog.
  await item.locator('[data-action="delete-webhook"]').click();
  await page.locator('.dialog [data-action="confirm"]').click();
  await page.locator('[data-testid="webhook-list"] .state-empty').waitFor();
  const after = await server.api.call('GET', '/api/webhooks', { key: ADMIN });
  assert.deepEqual(after.json.webhooks, []);
});

test('a GA4 webhook created with consent unticked sends regardless, and says so', async () => {
  await go(page, server.base, '#/settings', ADMIN);
  await page.getByLabel('Endpoint URL').fill('https://www.google-analytics.com/mp/collect?measurement_id=G-X&api_secret=s');
  await page.getByLabel('Format').selectOption('ga4');
  await page.getByLabel('Only send leads who gave ad_user_data consent').uncheck();
  await page.locator('[data-action="add-webhook"]').click();
  await page.locator('[data-testid="webhook-secret-card"]').waitFor();
  const item = page.locator('.webhook-item');
  await item.locator('[data-testid="webhook-consent"]').getByText('Not required (recorded elsewhere)').waitFor();
  const list = await server.api.call('GET', '/api/webhooks', { key: ADMIN });
  assert.deepEqual(list.json.webhooks.map((w) => [w.format, w.consent]), [['ga4', 'not_required']]);
  await item.locator('[data-action="delete-webhook"]').click();
  await page.locator('.dialog [data-action="confirm"]').click();
  await page.locator('[data-testid="webhook-list"] .state-empty').waitFor();
});

// The local delivery worker in `leadpipe serve` sends the lead's event to a receiver in this test.
test('a lead event is delivered to the receiver and the deliveries panel lists it', async () => {
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
  const stages = await server.api.stages();
  await go(page, server.base, '#/settings', ADMIN);
  await page.getByLabel('Endpoint URL').fill(hookUrl);
  await page.locator('[data-action="add-webhook"]').click();
  await page.locator('[data-testid="webhook-secret-card"]').waitFor();
  const item = page.locator('.webhook-item');
  await item.first().waitFor();
  // A lead: its lead.created delivery reaches the receiver and shows in the panel as delivered.
  const lead = await server.api.postback({ email: 'hooked@example.com', stage: stages[0] });
  await item.locator('[data-action="toggle-deliveries"]').click();
  assert.equal(await item.locator('[data-action="toggle-deliveries"]').getAttribute('aria-expanded'), 'true');
  const row = item.locator('.deliveries-table tbody tr[data-state="delivered"]');
  for (;;) {
    if (await row.count()) break;
    // Wait for the worker, by state: refresh the panel each time the table (re)renders without it.
    await item.locator('.deliveries-panel .state-empty, .deliveries-table').first().waitFor();
    await item.locator('[data-action="refresh-deliveries"]').click();
    await page.waitForFunction(() => !document.querySelector('.deliveries-panel .state-loading'));
  }
  assert.match(await row.first().innerText(), /lead\.created/);
  assert.match(await row.first().innerText(), /HTTP 204/);
  assert.equal(await row.first().locator('[data-action="retry-delivery"]').count(), 0, 'a delivered delivery has no Retry');
  assert.equal(received.length, 1);
  assert.ok(received[0].headers['webhook-signature'].startsWith('v1,'));
  assert.equal(JSON.parse(received[0].body).data.lead.id, lead.lead_id);
  await screenshot(page, 'settings-deliveries');

});
