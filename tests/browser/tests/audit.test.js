// Audit log (issue 23): changes made through the API show on the Audit Log screen with actor, action, target,
// client and summary; the action filter narrows the table; Export CSV downloads the same filter; the lead drawer's
// history says who moved the lead by hand; laid out at both sizes without overlaps or clipped text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, newPage, screenshot, go, waitDrawer, parseCsv, DESKTOP, PHONE } from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';
import { axe, describe } from '../lib/axe.js';

const ADMIN = 'audit-admin-key';
const INGEST = 'audit-ingest-key';

let server; let browser; let page; let leadId; let goneId;

async function call(method, p, body, key = ADMIN) {
  const res = await fetch(`${server.base}${p}`, {
    method,
    headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  browser = await launchBrowser();
  ({ page } = await newPage(browser));
  const a = await call('POST', '/api/postback', { email: 'moved@example.com', first_name: 'Mia', stage: 'Form Started' }, INGEST);
  const b = await call('POST', '/api/postback', { email: 'gone@example.com', stage: 'New' }, INGEST);
  leadId = a.body.lead_id; goneId = b.body.lead_id;
  assert.equal((await call('PUT', `/api/leads/${leadId}/stage`, { stage: 'Paid' })).status, 200);
  assert.equal((await call('POST', `/api/leads/${leadId}/orders`, { value: '49.99', currency: 'USD', order_id: 'A-1' })).status, 200);
  assert.equal((await call('DELETE', `/api/leads/${goneId}`)).status, 204);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the audit log lists changes with who, what and where; the filter and Export CSV work', async () => {
  await go(page, server.base, '#/audit', ADMIN);
  const rows = page.locator('table.audit-table tbody tr');
  assert.equal(await rows.count(), 3);
  const cells = await rows.evaluateAll((trs) => trs.map((tr) => [...tr.cells].slice(1).map((c) => c.innerText.trim().replace(/\s+/g, ' '))));
  assert.deepEqual(cells[0], ['key:ADMIN_API_KEY admin', 'lead.deleted', goneId, '127.0.0.1', 'email: gone@example.com · orders: 0 · stage: New']);
  assert.deepEqual(cells[1], ['key:ADMIN_API_KEY admin', 'order.added', leadId, '127.0.0.1', 'after: 49.99 USD · order id: A-1']);
  assert.deepEqual(cells[2], ['key:ADMIN_API_KEY admin', 'lead.stage_moved', leadId, '127.0.0.1', 'Form Started → Paid']);
  await screenshot(page, 'audit-log');

  await page.locator('#au-action').selectOption('lead.stage_moved');
  await page.locator('[data-action="apply-audit"]').click();
  await page.waitForFunction(() => document.querySelectorAll('table.audit-table tbody tr').length === 1);
  assert.match(page.url(), /#\/audit\?.*action=lead.stage_moved/);

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-action="export-audit"]').click(),
  ]);
  assert.match(download.suggestedFilename(), /^audit-log_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = parseCsv(readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, ''));
  assert.deepEqual(csv[0], ['id', 'at', 'actor', 'role', 'client_ip', 'action', 'target', 'summary']);
  const data = csv.slice(1).filter((r) => r.length > 1);
  assert.equal(data.length, 1);
  assert.deepEqual(data[0].slice(2, 7), ['key:ADMIN_API_KEY', 'admin', '127.0.0.1', 'lead.stage_moved', leadId]);
  assert.deepEqual(JSON.parse(data[0][7]), { from: 'Form Started', to: 'Paid' });

  // A range the log refuses is explained beside the filters, nothing is requested.
  await page.locator('#au-from').fill('2026-01-01');
  await page.locator('#au-to').fill('2026-03-01');
  await page.locator('[data-action="apply-audit"]').click();
  await page.locator('#au-error:not([hidden])').waitFor();
  assert.match(await page.locator('#au-error').innerText(), /at most 31 days/);
});

test('the lead drawer says who moved the lead by hand', async () => {
  await go(page, server.base, `#/leads/${leadId}`, ADMIN);
  await waitDrawer(page, leadId);
  const by = page.locator('.drawer .timeline .tl-by');
  await by.waitFor();
  assert.equal(await by.innerText(), 'moved by key:ADMIN_API_KEY');
  await page.locator('.drawer .timeline').scrollIntoViewIfNeeded();
  await screenshot(page, 'audit-drawer-moved-by', { fullPage: false });
});

test('the audit log is laid out without overlaps at both sizes and passes axe', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    for (const colorScheme of ['light', 'dark']) {
      const { context, page: p } = await newPage(browser, { viewport, colorScheme, bypassCSP: true });
      const tag = `${size}-${colorScheme}`;
      try {
        await go(p, server.base, '#/audit', ADMIN);
        await screenshot(p, `audit-log-${tag}`);
        assert.deepEqual(await layoutDefects(p, '.filters-audit > *, .filters-audit .filter > *, .page-actions > *',
          { noClip: ['input[type=date]'] }), [], `${tag}: filters`);
        assert.deepEqual(await layoutDefects(p, '.audit-table tbody td', { offscreen: false }), [], `${tag}: table cells`);
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 1, `${tag}: no page overflow (${overflow} px)`);
        const bad = (await axe(p)).filter((v) => v.impact === 'critical' || v.impact === 'serious');
        assert.equal(bad.length, 0, `${tag}: axe\n${describe(bad)}`);
      } finally {
        await context.close();
      }
    }
  }
});
