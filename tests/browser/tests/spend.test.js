// Ad spend and exchange rates (issue 22): the Google Ads and Meta exports imported through the Import screen's
// "Ad spend" card (format recognised, stored and rejected rows with their lines, the exact amounts in the API,
// a second import storing the same rows), and Settings' "Exchange rates" (reporting currency, add, edit, import a
// CSV, delete), laid out at both sizes without overlaps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, screenshot, go, REPO_ROOT, DESKTOP, PHONE } from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';

const ADMIN = 'spend-admin-key';
const INGEST = 'spend-ingest-key';
const FIXTURES = path.join(REPO_ROOT, 'tests/fixtures/spend');

let server; let browser; let page;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  browser = await launchBrowser();
  ({ page } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function apiGet(p) {
  const res = await fetch(`${server.base}${p}`, { headers: { 'x-api-key': ADMIN } });
  assert.equal(res.status, 200, p);
  return res.json();
}

test('the Google Ads and Meta exports import through the Import screen, exactly and idempotently', async () => {
  await go(page, server.base, '#/import', ADMIN);
  const card = page.locator('[data-testid="spend-card"]');
  await card.waitFor();
  await page.locator('#spend-file').setInputFiles(path.join(FIXTURES, 'google-ads.csv'));
  await page.locator('[data-testid="spend-run"]').click();
  const summary = page.locator('[data-testid="spend-summary"]');
  await summary.waitFor();
  assert.equal(await summary.innerText(), 'Google Ads: 5 row(s) stored, 2 rejected, 3 total row(s) skipped');
  const rejected = await page.locator('[data-testid="spend-rejected"] tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.deepEqual(rejected, [['9', 'amount', '"n/a" is not a number'], ['10', 'day', '"2026-11-31" is not a date']]);
  await screenshot(page, 'spend-import-google');

  await page.locator('#spend-file').setInputFiles(path.join(FIXTURES, 'meta-ads.csv'));
  await page.locator('[data-testid="spend-run"]').click();
  await page.locator('[data-testid="spend-summary"]', { hasText: 'Meta Ads Manager: 3 row(s) stored, 2 rejected' }).waitFor();
  assert.deepEqual(await page.locator('[data-testid="spend-rejected"] tbody tr td:first-child').allInnerTexts(), ['5', '6']);
  await screenshot(page, 'spend-import-meta');

  const once = await apiGet('/api/spend?from=2026-11-01&to=2026-11-30');
  assert.equal(once.rows.length, 8);
  const row = (key) => once.rows.find((r) => r.key === key);
  assert.deepEqual(row('2026-11-01|google|llc-spring-2026|').amount, { minor: 123456, currency: 'USD', amount: '1234.56' });
  assert.deepEqual(row('2026-11-01|facebook|llc spring – lookalike|').amount, { minor: 123456, currency: 'EUR', amount: '1234.56' });

  // The same file again: stored again, nothing added.
  await page.locator('#spend-file').setInputFiles(path.join(FIXTURES, 'google-ads.csv'));
  await page.locator('[data-testid="spend-run"]').click();
  await page.locator('[data-testid="spend-summary"]', { hasText: 'Google Ads: 5 row(s) stored' }).waitFor();
  assert.deepEqual(await apiGet('/api/spend?from=2026-11-01&to=2026-11-30'), once);

  // A chosen format and a source override.
  await page.locator('#spend-format').selectOption('google_ads');
  await page.locator('#spend-source').fill('Google-Brand');
  await page.locator('[data-testid="spend-run"]').click();
  await page.locator('[data-testid="spend-summary"]', { hasText: 'Google Ads: 5 row(s) stored' }).waitFor();
  const after2 = await apiGet('/api/spend?from=2026-11-01&to=2026-11-30');
  assert.equal(after2.rows.filter((r) => r.source === 'google-brand').length, 5);

  // A file that is no spend file: the error, nothing stored.
  const dir = mkdtempSync(path.join(tmpdir(), 'leadpipe-spend-'));
  writeFileSync(path.join(dir, 'leads.csv'), 'email,name\na@example.com,A\n');
  await page.locator('#spend-format').selectOption('auto');
  await page.locator('#spend-file').setInputFiles(path.join(dir, 'leads.csv'));
  await page.locator('[data-testid="spend-run"]').click();
  await page.locator('[data-testid="spend-report"] .form-error', { hasText: 'header row' }).waitFor();
  assert.equal((await apiGet('/api/spend?from=2026-11-01&to=2026-11-30')).rows.length, 13);
});

test('Settings lists, adds, edits, imports and deletes exchange rates in the reporting currency', async () => {
  await go(page, server.base, '#/settings', ADMIN);
  const card = page.locator('[data-testid="rates-card"]');
  await card.locator('[data-testid="rates-reporting"]', { hasText: 'Reporting currency: USD' }).waitFor();
  await card.locator('[data-testid="rates-list"]', { hasText: 'No exchange rates yet' }).waitFor();
  await page.locator('#rate-day').fill('2026-11-01');
  await page.locator('#rate-currency').fill('eur');
  await page.locator('#rate-value').fill('1.08');
  await page.locator('[data-testid="rate-save"]').click();
  await page.locator('[data-testid="rates-table"] tr[data-rate="EUR 2026-11-01"]').waitFor();
  // A bad rate says why, and stores nothing.
  await page.locator('#rate-currency').fill('JPY');
  await page.locator('#rate-value').fill('-1');
  await page.locator('[data-testid="rate-save"]').click();
  await page.locator('[data-testid="rates-problem"]', { hasText: 'rate' }).waitFor();
  // Edit fills the form; saving replaces the rate of that day.
  await page.getByRole('button', { name: 'Edit EUR from 2026-11-01' }).click();
  assert.equal(await page.locator('#rate-value').inputValue(), '1.08');
  await page.locator('#rate-value').fill('1.1');
  await page.locator('[data-testid="rate-save"]').click();
  await page.locator('[data-testid="rates-table"] tr[data-rate="EUR 2026-11-01"]', { hasText: '1.1' }).waitFor();

  const dir = mkdtempSync(path.join(tmpdir(), 'leadpipe-rates-'));
  writeFileSync(path.join(dir, 'rates.csv'), 'day,currency,rate\n2026-11-01,JPY,0.0067\n2026-11-01,BHD,2.659574468085\nnope,EUR,1\n');
  await page.locator('#rates-file').setInputFiles(path.join(dir, 'rates.csv'));
  await page.locator('[data-testid="rates-summary"]', { hasText: '2 rate(s) stored, 1 rejected' }).waitFor();
  assert.deepEqual(await page.locator('[data-testid="rates-rejected"] tbody tr td:first-child').allInnerTexts(), ['4']);
  await page.locator('[data-testid="rates-table"] tr[data-rate="JPY 2026-11-01"]').waitFor();
  const rates = await apiGet('/api/rates');
  assert.deepEqual(rates, {
    reporting_currency: 'USD',
    rates: [
      { day: '2026-11-01', currency: 'BHD', rate: '2.659574468085' },
      { day: '2026-11-01', currency: 'EUR', rate: '1.1' },
      { day: '2026-11-01', currency: 'JPY', rate: '0.0067' },
    ],
  });
  await card.scrollIntoViewIfNeeded();
  await screenshot(page, 'settings-rates');
  await page.getByRole('button', { name: 'Delete BHD from 2026-11-01' }).click();
  await page.locator('[data-testid="rates-table"] tr[data-rate="BHD 2026-11-01"]').waitFor({ state: 'detached' });
  assert.equal((await apiGet('/api/rates')).rates.length, 2);
});

test('the spend and rates cards are laid out at 1440 and 390 px, light and dark: nothing overlaps or clips', async () => {
  const put = await fetch(`${server.base}/api/rates`, {
    method: 'PUT', headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ rows: [{ day: '2026-10-01', currency: 'GBP', rate: '1.27' }] }),
  });
  assert.equal(put.status, 200);
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    for (const colorScheme of ['light', 'dark']) {
      const { context, page: p } = await newPage(browser, { viewport, colorScheme });
      const tag = `${size}-${colorScheme}`;
      try {
        await go(p, server.base, '#/import', ADMIN);
        await p.locator('#spend-file').setInputFiles(path.join(FIXTURES, 'google-ads.csv'));
        await p.locator('[data-testid="spend-run"]').click();
        await p.locator('[data-testid="spend-rejected"]').waitFor();
        await p.locator('[data-testid="spend-card"]').scrollIntoViewIfNeeded();
        await screenshot(p, `spend-card-${tag}`);
        assert.deepEqual(await layoutDefects(p, '[data-testid="spend-card"] .import-body > *, [data-testid="spend-card"] .form-field > *',
          { noClip: ['.table-scroll', 'input[type=file]', '.import-report'] }), [], `${tag}: spend card`);
        await go(p, server.base, '#/settings', ADMIN);
        await p.locator('[data-testid="rates-table"]').waitFor();
        await p.locator('[data-testid="rates-card"]').scrollIntoViewIfNeeded();
        await screenshot(p, `settings-rates-${tag}`);
        assert.deepEqual(await layoutDefects(p, '[data-testid="rates-card"] .settings-body > *, .rate-form .form-field > *',
          { noClip: ['.table-scroll', 'input[type=file]', '.import-report'] }), [], `${tag}: rates card`);
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 1, `${tag}: no page overflow (${overflow} px)`);
      } finally {
        await context.close();
      }
    }
  }
});
