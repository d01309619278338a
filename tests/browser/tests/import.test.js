// Import screen: pick a CSV with back-dated rows, see the preview of its first rows, import it, read the report,
// and find the lead on its real date.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, screenshot, go } from '../lib/harness.js';

const ADMIN = 'import-admin-key';
const INGEST = 'import-ingest-key';

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

test('a CSV with back-dated rows is previewed, imported and reported, and its leads keep their dates', async () => {
  const csv = [
    'email,first_name,source,stage,created_at,reached Paid at',
    'old.ann@example.com,Ann,google,Paid,2025-03-04T10:00:00Z,2025-03-06T10:00:00Z',
    'old.bob@example.com,Bob,bing,,2025-03-05,',
    'not-an-email,Nobody,,,,',
  ].join('\n');
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'leadpipe-import-')), 'history.csv');
  writeFileSync(file, `${csv}\n`);
  await go(page, server.base, '#/import', ADMIN);
  await page.locator('#import-file').setInputFiles(file);
  const preview = page.locator('[data-testid="import-preview"] tbody tr');
  await preview.nth(2).waitFor();
  assert.equal(await preview.count(), 3);
  assert.match(await page.locator('[data-testid="import-preview"] thead').innerText(), /reached Paid at/i);
  await page.locator('[data-testid="import-run"]').click();
  const summary = page.locator('[data-testid="import-summary"]');
  await summary.waitFor();
  assert.equal(await summary.innerText(), '2 imported, 0 updated, 0 unchanged, 1 rejected');
  assert.match(await page.locator('[data-testid="import-rejected"] tbody tr').first().innerText(), /^4\s/);
  await screenshot(page, 'import-report');

  const leads = await server.api.listAll();
  const ann = leads.find((l) => l.email === 'old.ann@example.com');
  assert.equal(ann.created_at, '2025-03-04T10:00:00Z');
  assert.equal(ann.stage, 'Paid');
  const a = await server.api.analytics({ from: '2025-03-01', to: '2025-03-31' });
  assert.equal(a.new_leads, 2);
  assert.deepEqual(a.new_leads_by_day.filter((d) => d.count > 0).map((d) => d.date), ['2025-03-04', '2025-03-05']);

  // Importing the same file again changes nothing.
  await page.locator('[data-testid="import-run"]').click();
  await page.locator('[data-testid="import-summary"]', { hasText: '0 imported, 0 updated, 2 unchanged, 1 rejected' }).waitFor();
});
