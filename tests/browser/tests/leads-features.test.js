// All Leads: lead URLs, keyboard, date validation, column chooser, selection + bulk actions, sort, export names.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startServer, launchBrowser, newPage, screenshot, go as goTo, waitReady, waitDrawer, expectTableIds, tableIds,
  parseCsv, today, addDays,
} from '../lib/harness.js';
import { seed, leadBody } from '../lib/seed.js';

const ADMIN = 'features-admin-key';
const INGEST = 'features-ingest-key';

const server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
const stages = await server.api.stages();
const ids = await seed(server.api, stages, 30);
const browser = await launchBrowser();
const { page, events } = await newPage(browser);

after(async () => {
  await browser?.close();
  await server?.stop();
});

const go = (hash, p = page) => goTo(p, server.base, hash, ADMIN);
const hashOf = (p) => new URL(p.url()).hash;
const drawers = (p) => p.locator('.drawer');

test('every lead has a URL: opening from the table sets it, pasting another lead\'s URL over an open drawer opens that lead, closing restores the filtered list URL', async () => {
  await go('#/leads');
  const [a, b] = [ids[29], ids[28]];
  await page.locator(`tr[data-lead-id="${a}"] [data-action=open]`).click();
  await waitDrawer(page, a);
  assert.equal(hashOf(page), `#/leads/${a}`);
  await drawers(page).getByText(leadBody(29, stages).email).first().waitFor();

  // Paste B's URL while A is open (same document, like editing the address bar).
  await page.evaluate((id) => { location.hash = `#/leads/${id}`; }, b);
  await waitDrawer(page, b);
  assert.equal(await drawers(page).count(), 1, 'B replaced A');
  await drawers(page).getByText(leadBody(28, stages).email).first().waitFor();
  assert.equal(hashOf(page), `#/leads/${b}`);

  // Back goes to A again (the URL history is the lead history).
  await page.goBack();
  await waitDrawer(page, a);
  assert.equal(await drawers(page).count(), 1);

  // A fresh load of a lead URL opens its drawer over the table.
  await go(`#/leads/${b}`);
  await waitDrawer(page, b);
  await page.locator('table.leads-table tbody tr').first().waitFor();

  // With filters: the lead URL keeps them, closing restores the filtered list.
  await go('#/leads?source=google');
  const google = (await server.api.listAll({ source: 'google' })).map((l) => l.id);
  await expectTableIds(page, google.slice(0, 25), 'filtered list');
  await page.locator(`tr[data-lead-id="${google[1]}"] .link-btn`).click();
  await waitDrawer(page, google[1]);
  assert.equal(hashOf(page), `#/leads/${google[1]}?source=google`);
  await page.locator('[data-action=close-drawer]').click();
  await drawers(page).waitFor({ state: 'detached' });
  assert.equal(hashOf(page), '#/leads?source=google');
  assert.equal(await page.locator('input[name=source]').inputValue(), 'google');
  await expectTableIds(page, google.slice(0, 25), 'filters kept');
  assert.deepEqual(events.pageErrors, []);
});

test('source and campaign pickers list every known value with its leads (from counters); picking one filters, with an exact total', async () => {
  await go('#/leads');
  await page.waitForFunction(() => document.querySelector('#f-source')?.dataset.values && document.querySelector('#f-campaign')?.dataset.values);
  const all = await server.api.listAll();
  const expected = (key) => {
    const counts = new Map();
    for (const l of all) counts.set(l[key].toLowerCase(), (counts.get(l[key].toLowerCase()) || 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v, n]) => [v, `${n} lead${n === 1 ? '' : 's'}`]);
  };
  const options = (id) => page.locator(`#${id} option`).evaluateAll((os) => os.map((o) => [o.value, o.label]));
  assert.equal(await page.locator('#f-source').getAttribute('list'), 'f-source-values');
  assert.deepEqual(await options('f-source-values'), expected('source'));
  assert.deepEqual(await options('f-campaign-values'), expected('campaign'));
  // Picking a value (what choosing a datalist option does: the value is filled in) filters the table.
  const [value, label] = (await options('f-campaign-values'))[0];
  await page.locator('#f-campaign').fill(value);
  await page.waitForFunction((v) => location.hash.includes(`campaign=${v}`), value);
  const want = all.filter((l) => l.campaign.toLowerCase() === value).map((l) => l.id);
  await expectTableIds(page, want.slice(0, 25), 'filtered by the picked campaign');
  await page.locator('.summary', { hasText: `of ${want.length} leads` }).waitFor();
  assert.equal(label, `${want.length} leads`);
  await screenshot(page, 'desktop-leads-pickers', { fullPage: false });
  await page.locator('[data-action=clear-filters]').click();
});

test('keyboard: "/" focuses the search box (not while typing), Esc closes the drawer and focus returns to the opener', async () => {
  await go('#/leads');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.name), 'search');
  assert.equal(await page.locator('input[name=search]').inputValue(), '', 'the "/" is not typed into the box');

  // While typing in another input, "/" is just a character.
  await page.locator('input[name=campaign]').focus();
  await page.keyboard.type('a/b');
  assert.equal(await page.evaluate(() => document.activeElement.name), 'campaign');
  assert.equal(await page.locator('input[name=campaign]').inputValue(), 'a/b');
  await page.locator('input[name=campaign]').fill('');
  await go('#/leads');

  // Esc closes the drawer; focus goes back to the button that opened it; the URL is the list again.
  const opener = page.locator(`tr[data-lead-id="${ids[25]}"] [data-action=open]`);
  await opener.focus();
  await page.keyboard.press('Enter');
  await waitDrawer(page, ids[25]);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'close-drawer', 'focus moves into the drawer');
  await page.keyboard.press('Escape');
  await drawers(page).waitFor({ state: 'detached' });
  assert.equal(await opener.evaluate((el) => el === document.activeElement), true, 'focus is back on the opener');
  assert.equal(hashOf(page), '#/leads');

  // "/" on the board too.
  await go('#/board');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'b-search');
});

test('"From" after "To" shows one inline message that updates, never a stack of toasts', async () => {
  await go('#/leads');
  const from = page.locator('input[name=from]');
  const to = page.locator('input[name=to]');
  await to.fill('2026-11-01');
  await to.dispatchEvent('change');
  await waitReady(page, 'leads');
  for (const day of ['2026-11-05', '2026-11-09', '2026-11-20']) {
    await from.fill(day);
    await from.dispatchEvent('change');
    await page.locator('.filter-error').getByText(`“From” (${day}) must be on or before “To” (2026-11-01)`).waitFor();
  }
  assert.equal(await page.locator('.filter-error:visible').count(), 1, 'one message');
  assert.equal(await page.locator('.toast').count(), 0, 'no toasts');
  assert.equal(await from.getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'desktop-leads-date-error', { fullPage: false });
  // Fixing the range removes the message and applies the filter.
  await to.fill(addDays(today(), 1));
  await to.dispatchEvent('change');
  await page.locator('.filter-error').waitFor({ state: 'hidden' });
  assert.equal(await from.getAttribute('aria-invalid'), null);
  assert.match(hashOf(page), /from=2026-11-20/);
});

test('column chooser: the choice is remembered, and at 1440px no column hides under the sticky Actions column', async () => {
  await go('#/leads');
  const geometry = () => page.evaluate(() => {
    const sc = document.querySelector('.table-scroll');
    const dev = document.querySelector('th[data-col=device]');
    const act = document.querySelector('th.col-actions').getBoundingClientRect();
    return { overflow: sc.scrollWidth - sc.clientWidth, devRight: dev ? dev.getBoundingClientRect().right : null, actLeft: act.left };
  });
  const g = await geometry();
  assert.ok(g.overflow <= 0, `the default columns fit at 1440px (overflow ${g.overflow}px)`);
  assert.ok(g.devRight <= g.actLeft + 0.5, `Device (${g.devRight}) ends before Actions (${g.actLeft})`);

  const heads = () => page.locator('table.leads-table thead th[data-col]').evaluateAll((ths) => ths.map((t) => t.dataset.col));
  await page.locator('[data-action=columns]').click();
  await page.locator('#column-chooser').waitFor();
  await page.locator('#column-chooser input[data-col=ip]').uncheck();
  await page.locator('#column-chooser input[data-col=company]').check();
  await page.locator('#column-chooser input[data-col=in_stage]').check();
  await screenshot(page, 'desktop-leads-columns', { fullPage: false });
  await page.keyboard.press('Escape');
  await page.locator('#column-chooser').waitFor({ state: 'hidden' });
  let cols = await heads();
  assert.ok(!cols.includes('ip') && cols.includes('company') && cols.includes('in_stage'), cols.join(','));
  const row = page.locator(`tr[data-lead-id="${ids[12]}"]`);
  await row.locator('td[data-col=company]').getByText(leadBody(12, stages).company).waitFor();

  await go('#/leads'); // a new document: the choice comes back from localStorage
  cols = await heads();
  assert.ok(!cols.includes('ip') && cols.includes('company'), `remembered: ${cols.join(',')}`);
  const g2 = await geometry();
  assert.ok(g2.devRight <= g2.actLeft + 0.5 || g2.overflow > 0, 'Device is not under Actions');

  await page.locator('[data-action=columns]').click();
  await page.locator('[data-action=reset-columns]').click();
  await page.keyboard.press('Escape');
  cols = await heads();
  assert.deepEqual(cols, ['date', 'name', 'phone', 'stage', 'source', 'campaign', 'form', 'revenue', 'device']);
});

test('selection: bulk move (bounded concurrency, one confirmation, result summary with failures), export selected, bulk delete', async () => {
  // Count PUTs in flight to check the bound.
  let inflight = 0; let maxInflight = 0; let puts = 0;
  await page.route('**/api/leads/*/stage', async (route) => {
    puts++; inflight++; maxInflight = Math.max(maxInflight, inflight);
    try {
      const response = await route.fetch();
      inflight--;
      await route.fulfill({ response });
    } catch (e) { inflight--; throw e; }
  });
  try {
    await go('#/leads?limit=10');
    const pageIds = await tableIds(page);
    assert.equal(pageIds.length, 10);
    // Select all on the page, then one more lead goes away server-side before the move (a failure to report).
    await page.locator('[data-action=select-page]').check();
    await page.locator('.bulk-bar').getByText('10 selected').waitFor();
    assert.equal(await page.locator('tbody [data-action=select]:checked').count(), 10);
    const gone = pageIds[0]; // in the first stage, so it would move
    assert.equal((await server.api.call('DELETE', `/api/leads/${gone}`, { key: ADMIN })).status, 204);

    const target = stages[3];
    const alreadyThere = (await Promise.all(pageIds.map((id) => server.api.lead(id))))
      .filter((r) => r.status === 200 && r.json.lead.stage === target).length;
    await page.locator('[data-action=bulk-stage]').selectOption(target);
    await page.locator('[data-action=bulk-move]').click();
    const dialog = page.locator('.dialog');
    await dialog.getByText(`to ${target}?`).waitFor();
    await dialog.locator('[data-action=confirm]').click();
    const result = page.locator('.bulk-result');
    await result.getByText(/^Moved \d+ leads? to/).waitFor();
    await waitReady(page, 'leads');
    const text = await result.innerText();
    assert.match(text, /1 failed \(still selected\)/, text);
    if (alreadyThere) assert.match(text, new RegExp(`${alreadyThere} already there`), text);
    assert.match(text, new RegExp(`^Moved ${10 - 1 - alreadyThere} leads to`), text);
    assert.match(text, /not found|no longer|exist/i, 'the failure says why');
    assert.ok(maxInflight <= 4, `at most 4 requests in flight (saw ${maxInflight})`);
    assert.equal(puts, 10 - alreadyThere, `one PUT per lead to move (saw ${puts})`);
    for (const id of pageIds.filter((x) => x !== gone)) {
      const l = await server.api.lead(id);
      assert.equal(l.json.lead.stage, target, `lead ${id} moved`);
    }
    await page.locator('.bulk-bar').getByText('1 selected').waitFor();
    assert.equal(events.dialogs.length, 0, 'no native dialogs');
    await screenshot(page, 'desktop-leads-bulk-result', { fullPage: false });
    await page.locator('[data-action=clear-selection]').click();
    await page.locator('.bulk-bar').waitFor({ state: 'hidden' });

    // Export selected: exactly the chosen rows.
    const rows = await tableIds(page);
    const chosen = [rows[0], rows[2], rows[3]];
    for (const id of chosen) await page.locator(`tr[data-lead-id="${id}"] [data-action=select]`).check();
    await page.locator('.bulk-bar').getByText('3 selected').waitFor();
    assert.equal(await page.locator('[data-action=select-page]').evaluate((el) => el.indeterminate), true, 'header box shows a partial selection');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action=bulk-export]').click()]);
    assert.equal(download.suggestedFilename(), `leads_selected-3_exported-${today()}.csv`);
    const csv = parseCsv(readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, ''));
    assert.deepEqual(csv.slice(1).map((r) => r[csv[0].indexOf('id')]).sort(), [...chosen].sort());

    // Bulk delete: one confirmation for all of them.
    await page.locator('[data-action=bulk-delete]').click();
    await dialog.getByText('Delete 3 leads?').waitFor();
    await dialog.locator('[data-action=confirm]').click();
    await result.getByText('Deleted 3 leads.').waitFor();
    assert.equal(await page.locator('.dialog').count(), 0, 'a single confirmation');
    for (const id of chosen) assert.equal((await server.api.lead(id)).status, 404);
    await waitReady(page, 'leads');
    for (const id of chosen) assert.equal(await page.locator(`tr[data-lead-id="${id}"]`).count(), 0);
  } finally {
    await page.unroute('**/api/leads/*/stage');
  }
});

test('sort: "Oldest first" sends sort=oldest to GET /api/leads, shows the oldest leads first, pages on in that order and survives a reload', async () => {
  await go('#/leads?limit=10');
  const [req] = await Promise.all([
    page.waitForRequest((r) => r.url().includes('/api/leads?') && new URL(r.url()).searchParams.get('sort') === 'oldest'),
    page.locator('select[name=sort]').selectOption('oldest'),
  ]);
  assert.ok(req);
  const first = await server.api.page({ sort: 'oldest', limit: 10 });
  await expectTableIds(page, first.leads.map((l) => l.id), 'oldest first');
  const created = first.leads.map((l) => l.created_at);
  assert.deepEqual(created, [...created].sort(), 'the API answers oldest first');
  assert.match(hashOf(page), /sort=oldest/);
  // The next page continues in the same order (the cursor belongs to the oldest-first listing).
  await page.locator('[data-action=next-page]').click();
  const second = await server.api.page({ sort: 'oldest', limit: 10, cursor: first.next_cursor });
  await expectTableIds(page, second.leads.map((l) => l.id), 'second page, oldest first');
  // A fresh document on the URL keeps the order.
  await go(hashOf(page));
  assert.equal(await page.locator('select[name=sort]').inputValue(), 'oldest');
  await expectTableIds(page, first.leads.map((l) => l.id), 'oldest first after a reload');
  const [req2] = await Promise.all([
    page.waitForRequest((r) => r.url().includes('/api/leads?') && new URL(r.url()).searchParams.get('sort') === 'newest'),
    page.locator('select[name=sort]').selectOption('newest'),
  ]);
  assert.ok(req2);
  await expectTableIds(page, (await server.api.page({ limit: 10 })).leads.map((l) => l.id), 'newest first');
});

test('export names the active filter: leads_stage-…_source-…_<from>_to_<to>.csv', async () => {
  const from = addDays(today(), -3);
  const to = addDays(today(), 1);
  await go(`#/leads?stage=${encodeURIComponent(stages[1])}&source=google&from=${from}&to=${to}`);
  const expected = await server.api.listAll({ stage: stages[1], source: 'google', from, to });
  assert.ok(expected.length > 0);
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action=export-csv]').click()]);
  const slug = stages[1].toLowerCase().replace(/[^a-z0-9]+/g, '-');
  assert.equal(download.suggestedFilename(), `leads_stage-${slug}_source-google_${from}_to_${to}.csv`);
  const csv = parseCsv(readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, ''));
  assert.equal(csv.length - 1, expected.length);
  for (const st of stages) assert.ok(csv[0].includes(`reached ${st} at`), `column for ${st}`);
});

test('an empty page with a cursor (a budget-bounded store passing only older leads) is followed, not shown as "no leads"', async () => {
  // DynamoDB answers such pages when every match is older than its read budget; SQLite never does, so the first
  // two answers are replaced by empty pages with cursors, and the third request goes to the server unchanged.
  const want = await server.api.page({ search: 'example', limit: 25 });
  assert.equal(want.leads.length, 25, 'a full page of matches');
  let served = 0;
  const seen = [];
  await page.route(/\/api\/leads\?/, async (route) => {
    const url = new URL(route.request().url());
    seen.push(url.searchParams.get('cursor'));
    if (url.searchParams.get('search') !== 'example' || served >= 2) {
      if (url.searchParams.get('cursor')?.startsWith('empty-')) url.searchParams.delete('cursor');
      return route.continue({ url: url.toString() });
    }
    served += 1;
    return route.fulfill({ json: { leads: [], next_cursor: `empty-${served}`, total: want.total, total_exact: want.total_exact } });
  });
  try {
    await go('#/leads?search=example');
    await expectTableIds(page, want.leads.map((l) => l.id), 'the first leads after the empty pages');
    assert.deepEqual(seen.slice(0, 3), [null, 'empty-1', 'empty-2'], 'each empty page\'s cursor was followed');
    assert.doesNotMatch(await page.locator('.summary').innerText(), /No leads/);
  } finally {
    await page.unroute(/\/api\/leads\?/);
  }
});
