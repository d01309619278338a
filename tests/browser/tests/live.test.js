// Live updates (the open screen follows data changes within 10 s, no reload) and an honest status badge.
// The dashboard polls GET /api/analytics every 5 s; the tests wait for the resulting state, up to 12 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, screenshot, go as goTo, waitReady, tableIds,
} from '../lib/harness.js';
import { seed } from '../lib/seed.js';

const ADMIN = 'live-admin-key';
const INGEST = 'live-ingest-key';
const LIVE = { timeout: 12_000 }; // poll every 5 s + the request: well inside the 10 s promise

let server; let browser; let page; let events; let stages; let ids;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  stages = await server.api.stages();
  ids = await seed(server.api, stages, 30);
  browser = await launchBrowser();
  ({ page, events } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const status = (p = page) => p.locator('.side-status');
/** Open a screen and wait until the poller has its first figures (its baseline), so later changes are news. */
const go = async (hash, p = page) => {
  await goTo(p, server.base, hash, ADMIN);
  await p.locator('.side-status[data-state="connected"]').waitFor();
};
let n = 0;
const newLead = () => server.api.postback({ email: `live${++n}@example.com`, first_name: `Live${n}`, stage: stages[0], source: 'google' });

test('status badge says "Connected" while polls succeed', async () => {
  await go('#/overview');
  await status().locator('.status-text').getByText(/^Connected/).waitFor();
  assert.equal(await status().getAttribute('data-state'), 'connected');
});

test('overview re-renders by itself when a lead arrives', async () => {
  await go('#/overview');
  const before = (await server.api.analytics()).total_leads;
  await page.locator('[data-kpi="kpi-total"]').getByText(String(before), { exact: true }).waitFor();
  await newLead();
  await page.locator('[data-kpi="kpi-total"]').getByText(String(before + 1), { exact: true }).waitFor(LIVE);
  const a = await server.api.analytics();
  assert.equal(await page.locator(`.funnel-row[data-stage="${stages[0]}"] .funnel-now`).innerText(), `${a.funnel[0].count} now`);
});

test('board reloads its columns when a lead is moved elsewhere', async () => {
  await go('#/board');
  const id = ids[29]; // in stages[0]
  await page.locator(`.column[data-stage="${stages[0]}"] .lead-card[data-lead-id="${id}"]`).waitFor();
  await server.api.setStage(id, stages[2]);
  await page.locator(`.column[data-stage="${stages[2]}"] .lead-card[data-lead-id="${id}"]`).waitFor(LIVE);
  await waitReady(page, 'board');
  assert.equal(await page.locator(`.column[data-stage="${stages[0]}"] .lead-card[data-lead-id="${id}"]`).count(), 0);
  const count = (await server.api.page({ stage: stages[2], limit: 1 })).total;
  assert.equal(await page.locator(`.column[data-stage="${stages[2]}"] .col-count`).innerText(), String(count));
  // A move made from this tab is not announced back as news (no extra reload needed to be right).
  assert.deepEqual(events.pageErrors, []);
});

test('all leads: new leads show a "N new leads — show" banner instead of moving rows; clicking it loads them', async () => {
  await go('#/leads');
  const before = await tableIds(page);
  const a = await newLead();
  const b = await newLead();
  const banner = page.locator('.live-banner');
  await banner.getByText(/^2 new leads — show$/).waitFor(LIVE);
  assert.deepEqual(await tableIds(page), before, 'rows did not move under the user');
  await screenshot(page, 'desktop-leads-live-banner', { fullPage: false });
  await banner.locator('[data-action=show-new]').click();
  await banner.waitFor({ state: 'hidden' });
  await waitReady(page, 'leads');
  const after = await tableIds(page);
  assert.deepEqual(after.slice(0, 2), [b.lead_id, a.lead_id], 'the new leads are on top');
});

test('overview over a range (last 7 days) follows a new lead: the new-leads figure and its change move', async () => {
  await go('#/overview?range=7d');
  const to = (await server.api.analytics()).to;
  const from = new Date(`${to}T00:00:00Z`); from.setUTCDate(from.getUTCDate() - 6);
  const range = { from: from.toISOString().slice(0, 10), to };
  const before = (await server.api.analytics(range)).new_leads;
  await page.locator('[data-kpi="kpi-new"]').getByText(String(before), { exact: true }).waitFor();
  await newLead();
  await page.locator('[data-kpi="kpi-new"]').getByText(String(before + 1), { exact: true }).waitFor(LIVE);
  await page.locator(`.kpi-new .cmp[data-delta="new"]`).waitFor();
  assert.equal(new URL(page.url()).hash, '#/overview?range=7d', 'the range is kept');
});

test('campaigns: a lead from a new campaign shows up as a row without a reload', async () => {
  await go('#/campaigns');
  assert.equal(await page.locator('.report-table tr[data-value="live-campaign"]').count(), 0);
  await server.api.postback({ email: 'camp@example.com', stage: stages[0], source: 'google', campaign: 'Live-Campaign' });
  const row = page.locator('.report-table tr[data-value="live-campaign"]');
  await row.waitFor(LIVE);
  assert.equal(await row.locator('td[data-col="leads"]').innerText(), '1');
});

test('form abandonment: a lead that stopped at 30 % on a new device shows up without a reload', async () => {
  await go('#/abandonment');
  await server.api.postback({ email: 'tv@example.com', stage: stages[0], device_type: 'smart-fridge', form_completion_percent: 30 });
  const row = page.locator('.table-host[data-by="device_type"] tr[data-value="smart-fridge"]');
  await row.waitFor(LIVE);
  assert.equal(await row.locator('td[data-decile="3"] .dec-n').innerText(), '1');
  assert.deepEqual(events.pageErrors, []);
});

test('status badge says "Offline — retrying" once the server has stopped', async () => {
  await go('#/overview');
  await status().locator('.status-text').getByText(/^Connected/).waitFor();
  await server.stop();
  await status().locator('.status-text').getByText('Offline — retrying').waitFor(LIVE);
  assert.equal(await status().getAttribute('data-state'), 'offline');
  await screenshot(page, 'desktop-offline', { fullPage: false });
  server = null; // stopped: nothing for after() to do
});
