// Import screen: pick a CSV with back-dated rows, see the preview of its first rows, import it, read the report,
// and find the lead on its real date.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, screenshot, go, waitDrawer, REPO_ROOT, DESKTOP, PHONE } from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';

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

// Issue 21 item 9: other tools' exports import as they are (columns guessed from their names, whatever their case
// and spacing), any column can be mapped by hand with a preview, and the screen is laid out at both sizes.
const FIXTURES = [
  ['hubspot', 'Email', ['ada.lovelace@example.com', 'grace@example.org']],
  ['pipedrive', 'Person - Email - Work', ['alan@example.net', 'katherine@example.com']],
  ['mailchimp', 'Email Address', ['hedy@example.com', 'margaret@example.com']],
];

for (const [tool, emailColumn, emails] of FIXTURES) {
  test(`a ${tool} export imports without editing`, async () => {
    await go(page, server.base, '#/import', ADMIN);
    await page.locator('#import-file').setInputFiles(path.join(REPO_ROOT, 'tests/fixtures/import', `${tool}.csv`));
    const sel = page.locator(`[data-testid="import-mapping"] select[data-column="${emailColumn}"]`);
    await sel.waitFor();
    assert.equal(await sel.inputValue(), 'email', `${emailColumn} is guessed as the email`);
    assert.equal(await page.locator('[data-testid="import-mapping"] select').evaluateAll((els) => els.filter((e) => e.value === 'lead_id').length), 0,
      'the tool\'s own id is not taken as a Leadpipe lead id');
    assert.ok((await page.locator('[data-testid="import-preview"] thead th').evaluateAll((els) => els.map((e) => e.textContent))).includes('email'));
    await page.locator('[data-testid="import-run"]').click();
    await page.locator('[data-testid="import-summary"]', { hasText: '2 imported, 0 updated, 0 unchanged, 0 rejected' }).waitFor();
    for (const email of emails) {
      const found = await server.api.page({ search: email });
      const lead = (found.leads || []).find((l) => l.email === email);
      assert.ok(lead, `${tool}: ${email} imported`);
      assert.ok(lead.first_name, `${tool}: ${email} has its first name`);
    }
  });
}

test('any column can be mapped by hand, with the preview showing the names imported', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'leadpipe-import-')), 'odd.csv');
  writeFileSync(file, 'Contact,Given,Where from\nmapped.by.hand@example.com,Hana,newsletter\n');
  await go(page, server.base, '#/import', ADMIN);
  await page.locator('#import-file').setInputFiles(file);
  await page.locator('[data-testid="import-mapping"] select[data-column="Contact"]').waitFor();
  await page.locator('[data-testid="import-problem"]', { hasText: 'Map a column to Email' }).waitFor();
  assert.ok(await page.locator('[data-testid="import-run"]').isDisabled(), 'no import without a column naming the lead');
  await page.getByLabel('Contact', { exact: true }).selectOption('email');
  await page.getByLabel('Given', { exact: true }).selectOption('first_name');
  await page.getByLabel('Where from', { exact: true }).selectOption('source');
  await page.locator('[data-testid="import-preview"] thead', { hasText: 'first_name' }).waitFor();
  assert.deepEqual(await page.locator('[data-testid="import-preview"] thead th').evaluateAll((els) => els.map((e) => e.textContent)), ['email', 'first_name', 'source']);
  assert.equal(await page.locator('[data-testid="import-problem"]').innerText(), '');
  await page.locator('[data-testid="import-run"]').click();
  await page.locator('[data-testid="import-summary"]', { hasText: '1 imported, 0 updated, 0 unchanged, 0 rejected' }).waitFor();
  const found = await server.api.page({ search: 'mapped.by.hand@example.com' });
  const lead = found.leads.find((l) => l.email === 'mapped.by.hand@example.com');
  assert.equal(lead.first_name, 'Hana');
  assert.equal(lead.source, 'newsletter');
});

test('the Import screen is laid out at 1440 and 390 px, light and dark: nothing overlaps, clips or leaves the screen', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    for (const colorScheme of ['light', 'dark']) {
      const { context, page: p } = await newPage(browser, { viewport, colorScheme });
      try {
        await go(p, server.base, '#/import', ADMIN);
        await p.locator('#import-file').setInputFiles(path.join(REPO_ROOT, 'tests/fixtures/import/mailchimp.csv'));
        await p.locator('[data-testid="import-mapping"] select').first().waitFor();
        await p.locator('[data-testid="import-preview"] tbody tr').first().waitFor();
        const tag = `${size}-${colorScheme}`;
        await screenshot(p, `import-mapping-${tag}`);
        assert.equal(await p.locator('.import').evaluate((e) => getComputedStyle(e).backgroundColor !== 'rgba(0, 0, 0, 0)'), true, `${tag}: the screen is a styled card`);
        assert.deepEqual(await layoutDefects(p, '.import-body > *, .import-body .form-field > *', { noClip: ['.table-scroll', '.import-mapping', '.import-preview', 'input[type=file]'] }), [], `${tag}: blocks`);
        assert.deepEqual(await layoutDefects(p, '.mapping-table select, .mapping-table th[scope=row], .mapping-table .map-samples', { offscreen: size === 'phone' }), [], `${tag}: mapping rows`);
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 1, `${tag}: no page overflow (${overflow} px)`);
      } finally {
        await context.close();
      }
    }
  }
});

test('an imported lead that moved through its stages shows them as its history, not "Created in Completed"', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'leadpipe-import-')), 'moved.csv');
  writeFileSync(file, [
    'email,stage,created_at,reached Form Started at,reached Application Submitted at,reached Paid at,reached Completed at',
    'moved.through@example.com,Completed,2025-04-01T09:00:00Z,2025-04-02T09:00:00Z,2025-04-03T09:00:00Z,2025-04-04T09:00:00Z,2025-04-05T09:00:00Z',
  ].join('\n'));
  await go(page, server.base, '#/import', ADMIN);
  await page.locator('#import-file').setInputFiles(file);
  await page.locator('[data-testid="import-preview"] tbody tr').first().waitFor();
  await page.locator('[data-testid="import-run"]').click();
  await page.locator('[data-testid="import-summary"]', { hasText: '1 imported' }).waitFor();
  const found = await server.api.page({ search: 'moved.through@example.com' });
  const lead = found.leads.find((l) => l.email === 'moved.through@example.com');
  await go(page, server.base, `#/leads/${lead.id}`, ADMIN);
  await waitDrawer(page, lead.id);
  const items = await page.locator('.drawer .timeline .tl-item .tl-head').evaluateAll((els) => els.map((e) => e.innerText.replace(/\s+/g, ' ').trim()));
  assert.deepEqual(items, ['Created in New', 'New → Form Started', 'Form Started → Application Submitted', 'Application Submitted → Paid', 'Paid → Completed']);
  const meta = await page.locator('.drawer .timeline .tl-meta').allInnerTexts();
  assert.ok(meta.slice(0, 4).every((m) => /stayed 1d/.test(m)), `a day in each stage: ${JSON.stringify(meta)}`);
  assert.ok(!(await page.locator('.drawer .timeline').innerText()).includes('Created in Completed'));
  await screenshot(page, 'import-lead-history', { fullPage: false });
});
