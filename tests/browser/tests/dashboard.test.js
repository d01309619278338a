// End-to-end tests of the dashboard against the real `leadpipe serve` with an admin key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startServer, launchBrowser, newPage, screenshot, parseCsv, today, addDays, PHONE,
  go as goTo, tableIds, expectTableIds, waitDrawer, waitReady,
} from '../lib/harness.js';
import { isFormulaLike } from '../../../static-site/js/csv.js';
import { seed, leadBody, FORMULA_LEAD } from '../lib/seed.js';
import { shownText, spokenText } from '../lib/a11y-text.js';

const ADMIN = 'test-admin-key-7f3a';
const INGEST = 'test-ingest-key-19c2';

let server; let browser; let page; let events; let stages; let ids; let formulaId;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  stages = await server.api.stages();
  assert.ok(stages.length >= 4, `expected at least 4 stages, got ${JSON.stringify(stages)}`);
  ids = await seed(server.api, stages, 30);
  // A manual move recorded through the admin API: lead 21 goes from stages[1] to stages[2].
  await server.api.setStage(ids[21], stages[2]);
  formulaId = (await server.api.postback({ ...FORMULA_LEAD, stage: stages[0] })).lead_id;
  // Make the formula lead the oldest-looking irrelevant for ordering: it is simply the newest lead.
  browser = await launchBrowser();
  ({ page, events } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(p, key = ADMIN) {
  await p.goto(`${server.base}/#/overview`);
  await p.locator('#admin-key').fill(key);
  await p.locator('form.signin-form button[type=submit]').click();
}

/** Open a screen (signing in when asked) and return once its data has rendered, not just the shell. */
async function go(hash, p = page) {
  await goTo(p, server.base, hash, ADMIN);
}

const title = (p) => p.locator('.page-title');
const rowsLocator = (p) => p.locator('table.leads-table tbody tr');

test('sign-in: a wrong key is rejected, the right key opens the dashboard', async () => {
  await page.goto(`${server.base}/`);
  await page.locator('#admin-key').waitFor();
  await screenshot(page, 'desktop-signin');
  await page.locator('#admin-key').fill('definitely-wrong');
  await page.locator('form.signin-form button[type=submit]').click();
  await page.locator('.form-error').getByText('not accepted').waitFor();
  assert.equal(await page.locator('.sidebar').count(), 0, 'dashboard must not open with a wrong key');

  await page.locator('#admin-key').fill(ADMIN);
  await page.locator('form.signin-form button[type=submit]').click();
  await title(page).getByText('Overview').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('leadpipe.adminKey')), ADMIN);
});

test('overview shows KPIs, funnel, top sources and the 30-day chart from real data', async () => {
  await go(`#/overview`);
  const a = await server.api.analytics();
  assert.equal(a.total_leads, 31);
  await page.locator('[data-kpi="kpi-total"]').getByText('31').waitFor();
  assert.equal(await page.locator('[data-kpi="kpi-today"]').innerText(), String(a.new_today));
  assert.equal(await page.locator('[data-kpi="kpi-new"]').innerText(), String(a.new_leads), 'new leads in the default range (last 30 days)');
  assert.equal(a.new_leads, a.new_last_30_days);
  const paidStage = a.funnel.find((f) => f.stage.toLowerCase() === 'paid') || a.funnel[a.funnel.length - 1];
  const expectedPct = ((paidStage.reached / a.new_leads) * 100);
  const paidText = await page.locator('[data-kpi="kpi-paid"]').innerText();
  assert.ok(Math.abs(parseFloat(paidText) - expectedPct) < 0.51, `paid conversion ${paidText} vs ${expectedPct}`);
  // Funnel rows in pipeline order with reached counts.
  const funnelStages = await page.locator('.funnel-row').evaluateAll((els) => els.map((e) => e.dataset.stage));
  assert.deepEqual(funnelStages, stages);
  for (const f of a.funnel) {
    const row = page.locator(`.funnel-row[data-stage="${f.stage}"]`);
    assert.equal(await row.locator('.funnel-reached').innerText(), `${f.reached} reached`);
  }
  // Top sources come from the seeded leads.
  for (const src of ['google', 'facebook', 'linkedin', 'newsletter']) {
    await page.locator('.hbar-label', { hasText: src }).first().waitFor();
  }
  // Chart: 30 bars, today's bar carries today's count.
  const bars = page.locator('.chart .bar-group');
  await bars.first().waitFor();
  assert.equal(await bars.count(), 30);
  const last = a.new_leads_by_day[a.new_leads_by_day.length - 1];
  assert.equal(await bars.last().getAttribute('data-count'), String(last.count));
  assert.equal(events.dialogs.length, 0);
  await screenshot(page, 'desktop-overview');
});

test('board: one column per stage in order, cards with real data, exact counts per column', async () => {
  await go(`#/board`);
  const cols = page.locator('.column');
  assert.deepEqual(await cols.evaluateAll((els) => els.map((e) => e.dataset.stage)), stages);
  const fs = page.locator(`.column[data-stage="${stages[1]}"]`);
  const inStage = await server.api.listAll({ stage: stages[1] });
  assert.equal(await fs.locator('.lead-card').count(), inStage.length, 'a column loads 100 a page: all 22 at once');
  assert.equal(await fs.locator('.load-more').count(), 0, 'nothing more to load');
  assert.equal(await fs.locator('.col-count').innerText(), String(inStage.length));
  const body0 = leadBody(0, stages);
  const oldest = fs.locator(`.lead-card[data-lead-id="${ids[0]}"]`);
  await oldest.getByText(`${body0.first_name} ${body0.last_name}`).waitFor();
  await oldest.getByText(body0.source).waitFor();
  await oldest.getByText(body0.campaign).waitFor();
  await oldest.locator('.card-age').getByText(/ago|just now/).waitFor();
  await oldest.locator('.card-form-pct').getByText(`Form ${body0.form_completion_percent}%`).waitFor();
  await oldest.locator('.card-in-stage').getByText(/in stage/).waitFor();
  await screenshot(page, 'desktop-board');
});

test('board: drag and drop moves a card forward and it persists', async () => {
  await go(`#/board`);
  const id = ids[29]; // newest seeded lead, in stages[0]
  const card = page.locator(`.column[data-stage="${stages[0]}"] .lead-card[data-lead-id="${id}"]`);
  await card.waitFor();
  const target = page.locator(`.column[data-stage="${stages[1]}"]`);
  await target.locator('.lead-card').first().waitFor();
  await card.dragTo(target.locator('.col-head'));
  await page.locator(`.column[data-stage="${stages[1]}"] .lead-card[data-lead-id="${id}"]`).waitFor();
  assert.equal(await page.locator('.dialog').count(), 0, 'forward moves do not ask');
  const api = await server.api.lead(id);
  assert.equal(api.json.lead.stage, stages[1]);
  await page.reload();
  await page.locator(`.column[data-stage="${stages[1]}"] .lead-card[data-lead-id="${id}"]`).waitFor();
  assert.equal(await page.locator(`.column[data-stage="${stages[0]}"] .lead-card[data-lead-id="${id}"]`).count(), 0);
});

test('board: the "Move to…" menu (keyboard path) moves a card and it persists', async () => {
  await go(`#/board`);
  const id = ids[23]; // in stages[2]
  const select = page.locator(`.column[data-stage="${stages[2]}"] .lead-card[data-lead-id="${id}"] select.move-select`);
  await select.waitFor();
  await select.focus();
  await select.selectOption(stages[3]);
  await page.locator(`.column[data-stage="${stages[3]}"] .lead-card[data-lead-id="${id}"]`).waitFor();
  assert.equal((await server.api.lead(id)).json.lead.stage, stages[3]);
  await page.reload();
  await page.locator(`.column[data-stage="${stages[3]}"] .lead-card[data-lead-id="${id}"]`).waitFor();
});

test('board: moving backwards asks for confirmation (cancel keeps, confirm moves), by menu and by drag', async () => {
  await go(`#/board`);
  const id = ids[24]; // in stages[3]
  const inCol = (st) => page.locator(`.column[data-stage="${st}"] .lead-card[data-lead-id="${id}"]`);
  await inCol(stages[3]).waitFor();
  await inCol(stages[3]).locator('select.move-select').selectOption(stages[1]);
  const dialog = page.locator('.dialog');
  await dialog.waitFor();
  await dialog.getByText('backwards').waitFor();
  await screenshot(page, 'desktop-board-confirm', { fullPage: false });
  await dialog.locator('[data-action=cancel]').click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal((await server.api.lead(id)).json.lead.stage, stages[3], 'cancel keeps the stage');
  assert.equal(await inCol(stages[3]).count(), 1);

  // Drag backwards: also asks.
  await inCol(stages[3]).dragTo(page.locator(`.column[data-stage="${stages[2]}"] .col-head`));
  await dialog.waitFor();
  await dialog.locator('[data-action=confirm]').click();
  await inCol(stages[2]).waitFor();
  assert.equal((await server.api.lead(id)).json.lead.stage, stages[2]);
  await page.reload();
  await inCol(stages[2]).waitFor();
  assert.equal(events.dialogs.length, 0, 'no native dialogs');
});

test('go() returns only once the screen\'s data has rendered (the cause of the header-row flake)', async () => {
  // Hold the list response: the shell and sidebar appear, the table cannot.
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/api/leads?*', async (route) => { await held; await route.continue(); });
  try {
    let returned = false;
    const nav = go('#/leads').then(() => { returned = true; });
    await page.locator('#content[data-screen="leads"][aria-busy="true"]').waitFor();
    await page.locator('.sidebar').waitFor();
    assert.equal(returned, false, 'go() has not returned while the data is outstanding');
    assert.equal(await page.locator('table.leads-table').count(), 0);
    release();
    await nav;
    assert.equal(await page.locator('table.leads-table thead th[data-col]').count(), 9, 'the header row is there when go() returns');
  } finally {
    release();
    await page.unroute('**/api/leads?*');
  }
});

test('all leads: table shows the seed\'s columns and real rows; lead detail shows fields, custom data, first touch and history', async () => {
  await go(`#/leads`);
  // go() returns once the table has rendered (it used to return when the sidebar appeared: a flake).
  const heads = await page.locator('table.leads-table thead th:not(.col-check)').allInnerTexts();
  // The first line of each header: a sortable one (Revenue) adds its sort mark and a hidden hint below.
  assert.deepEqual(heads.map((x) => x.trim().split('\n')[0].toLowerCase()),
    ['date', 'name / email', 'phone', 'stage', 'source', 'campaign', 'form %', 'revenue', 'device', 'actions']);
  const all = await server.api.listAll();
  const ui = await tableIds(page);
  assert.deepEqual(ui, all.slice(0, 25).map((l) => l.id), 'first page = newest 25 (default page size)');
  const i = 10;
  const b = leadBody(i, stages);
  const row = page.locator(`tr[data-lead-id="${ids[i]}"]`);
  await row.getByText(b.email).waitFor();
  await row.getByText(b.phone).waitFor();
  assert.equal(await shownText(row.locator('td[data-col=revenue]')), '—', 'no orders: no revenue (IP moved to the column chooser)');
  assert.equal(await spokenText(row.locator('td[data-col=revenue]')), 'no orders', 'and read as such');
  await row.getByText(`${b.form_completion_percent}%`).waitFor();
  await screenshot(page, 'desktop-leads');

  // Detail drawer (lead 21 moved with the admin key during seeding, so it has a 3-entry history naming the key).
  const j = 21;
  const bj = leadBody(j, stages);
  await page.locator(`tr[data-lead-id="${ids[j]}"] [data-action=open]`).click();
  const drawer = page.locator('.drawer');
  await waitDrawer(page, ids[j]);
  await drawer.getByText(bj.email).first().waitFor();
  for (const v of [bj.company, bj.utm_term, bj.referrer, bj.user_agent, 'seed_index', String(j), bj.custom_data.state]) {
    await drawer.getByText(v, { exact: true }).first().waitFor();
  }
  await drawer.locator('.detail-section', { hasText: 'First touch' }).getByText(bj.source, { exact: true }).first().waitFor();
  const tl = drawer.locator('.timeline .tl-item');
  assert.equal(await tl.count(), 3, 'created + postback advance + manual move');
  await tl.nth(0).getByText('Created in').waitFor();
  await tl.nth(2).getByText('moved by key:ADMIN_API_KEY', { exact: true }).waitFor();
  await screenshot(page, 'desktop-lead-detail', { fullPage: false });
  await drawer.locator('[data-action=close-drawer]').click();
  await drawer.waitFor({ state: 'detached' });
});

test('all leads: filters (stage, search, source, campaign, dates) return the right rows', async () => {
  await go(`#/leads?limit=100`);
  await tableIds(page);
  // stage
  await page.locator('select[name=stage]').selectOption(stages[1]);
  await expectTableIds(page, (await server.api.listAll({ stage: stages[1] })).map((l) => l.id), 'stage filter');
  for (const chip of await page.locator('tbody .chip').allInnerTexts()) assert.equal(chip.trim(), stages[1]);
  // + source
  await page.locator('input[name=source]').fill('linkedin');
  await expectTableIds(page, (await server.api.listAll({ stage: stages[1], source: 'linkedin' })).map((l) => l.id), 'stage+source');
  assert.ok((await rowsLocator(page).count()) > 0);
  // clear, then search
  await page.locator('[data-action=clear-filters]').click();
  await page.locator('input[name=search]').fill('olivia');
  const olivias = (await server.api.listAll({ search: 'olivia' })).map((l) => l.id);
  assert.equal(olivias.length, 3);
  await expectTableIds(page, olivias, 'search');
  // campaign
  await page.locator('[data-action=clear-filters]').click();
  await page.locator('input[name=campaign]').fill('ein-fast-track');
  await expectTableIds(page, (await server.api.listAll({ campaign: 'ein-fast-track' })).map((l) => l.id), 'campaign');
  // dates: everything was created today (in any reporting time zone, within ±1 day)
  await page.locator('[data-action=clear-filters]').click();
  await page.locator('input[name=from]').fill(addDays(today(), -1));
  await page.locator('input[name=from]').dispatchEvent('change');
  await expectTableIds(page, (await server.api.listAll()).map((l) => l.id), 'from yesterday = all');
  await page.locator('input[name=from]').fill('');
  await page.locator('input[name=to]').fill(addDays(today(), -2));
  await page.locator('input[name=to]').dispatchEvent('change');
  await page.locator('.state-empty').getByText('No leads match these filters').waitFor();
  assert.equal(await rowsLocator(page).count(), 0);
  await screenshot(page, 'desktop-leads-empty');
  await page.locator('[data-action=clear-filters]').click();
});

test('all leads: pagination with 10 per page walks Next and Previous through the right rows', async () => {
  await go(`#/leads`);
  await tableIds(page);
  await page.locator('select[name=limit]').selectOption('10');
  const pages = [];
  let cursor;
  do {
    const r = await server.api.page({ limit: 10, ...(cursor ? { cursor } : {}) });
    pages.push(r.leads.map((l) => l.id));
    cursor = r.next_cursor;
  } while (cursor);
  assert.equal(pages.length, 4, '31 leads = 4 pages of 10');
  await expectTableIds(page, pages[0], 'page 1');
  for (let n = 1; n < pages.length; n++) {
    await page.locator('[data-action=next-page]').click();
    await expectTableIds(page, pages[n], `page ${n + 1}`);
    await page.locator('.page-label').getByText(`Page ${n + 1}`).waitFor();
  }
  assert.ok(await page.locator('[data-action=next-page]').isDisabled(), 'no Next on the last page');
  await page.locator('[data-action=prev-page]').click();
  await expectTableIds(page, pages[2], 'back to page 3');
  await page.locator('[data-action=prev-page]').click();
  await page.locator('[data-action=prev-page]').click();
  await expectTableIds(page, pages[0], 'back to page 1');
  assert.ok(await page.locator('[data-action=prev-page]').isDisabled(), 'no Previous on page 1');
  const seen = new Set(pages.flat());
  assert.equal(seen.size, 31);
});

test('all leads: Export CSV downloads every row of the filter (all pages) with formula cells neutralised', async () => {
  await go(`#/leads?source=google&limit=10`);
  const expected = await server.api.listAll({ source: 'google' });
  assert.ok(expected.length > 8);
  await expectTableIds(page, expected.slice(0, 10).map((l) => l.id), 'filtered first page');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-action=export-csv]').click(),
  ]);
  assert.equal(download.suggestedFilename(), `leads_source-google_exported-${today()}.csv`, 'the filter is in the file name');
  const text = readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, '');
  const rows = parseCsv(text);
  const header = rows[0];
  const data = rows.slice(1);
  assert.equal(data.length, expected.length, 'one CSV row per filtered lead');
  const col = (name) => header.indexOf(name);
  assert.deepEqual(data.map((r) => r[col('id')]).sort(), expected.map((l) => l.id).sort());
  for (const r of data) assert.equal(r[col('source')], 'google');
  const f = data.find((r) => r[col('id')] === formulaId);
  assert.ok(f, 'formula lead is exported');
  assert.equal(f[col('first_name')], `'${FORMULA_LEAD.first_name}`);
  assert.equal(f[col('last_name')], `'${FORMULA_LEAD.last_name}`);
  assert.equal(f[col('phone')], FORMULA_LEAD.phone, 'a phone number is exported exactly as written');
  assert.equal(f[col('company')], `'${FORMULA_LEAD.company}`);
  assert.equal(f[col('utm_term')], `'${FORMULA_LEAD.utm_term}`, '+ followed by a formula is neutralised');
  assert.equal(f[col('utm_content')], `'${FORMULA_LEAD.utm_content}`, '- followed by text is neutralised');
  for (const e of expected) {
    const r = data.find((x) => x[col('id')] === e.id);
    assert.equal(r[col('phone')], e.phone ?? '', 'every phone exactly as stored');
    // One column per stage with the time the lead reached it.
    for (const st of stages) assert.equal(r[col(`reached ${st} at`)], (e.stage_reached_at || {})[st] || '', `${st} column`);
  }
  const moved = data.find((x) => x[col('id')] === ids[21]);
  if (moved) assert.ok(moved[col(`reached ${stages[2]} at`)], 'a moved lead has the time it reached its stage');
  assert.equal(f[col('campaign')], `'${FORMULA_LEAD.campaign}`);
  assert.equal(f[col('email')], FORMULA_LEAD.email, 'ordinary cells are untouched');
  assert.deepEqual(JSON.parse(f[col('custom_data')]), FORMULA_LEAD.custom_data, 'quotes/newlines survive CSV quoting');
  // No raw cell starts with a formula trigger.
  for (const r of data) for (const c of r) assert.ok(!isFormulaLike(c), `unsafe cell ${JSON.stringify(c)}`);
  assert.equal(isFormulaLike('+1 555 0100'), false);
  assert.equal(isFormulaLike('+SUM(1)'), true);
});

test('all leads: delete asks for confirmation, removes the lead, and the API answers 404', async () => {
  const id = ids[7];
  const b = leadBody(7, stages);
  await go(`#/leads`);
  await page.locator('input[name=search]').fill(b.email);
  await expectTableIds(page, [id], 'search finds the lead to delete');
  await page.locator(`tr[data-lead-id="${id}"] [data-action=delete]`).click();
  const dialog = page.locator('.dialog');
  await dialog.getByText('Delete this lead?').waitFor();
  await dialog.locator('[data-action=cancel]').click();
  assert.equal((await server.api.lead(id)).status, 200, 'cancel keeps the lead');
  await page.locator(`tr[data-lead-id="${id}"] [data-action=delete]`).click();
  await dialog.locator('[data-action=confirm]').click();
  await page.locator('.state-empty').waitFor();
  assert.equal((await server.api.lead(id)).status, 404);
  await page.reload();
  await page.locator('.state-empty').getByText('No leads match these filters').waitFor();
  await go(`#/leads?limit=100`);
  await tableIds(page);
  assert.equal(await page.locator(`tr[data-lead-id="${id}"]`).count(), 0);
  await go(`#/leads/${id}`);
  await waitDrawer(page, id);
  await page.locator('.drawer').getByText('no longer exists').waitFor();
});

test('API documentation is generated from openapi.json and /api/stages with this deployment\'s URL', async () => {
  const spec = (await server.api.call('GET', '/api/openapi.json')).json;
  await go(`#/docs`);
  const pb = Object.entries(spec.paths).find(([p, item]) => /postback/.test(p) && item.post);
  assert.ok(pb, 'spec has a postback path');
  await page.locator('#postback .endpoint-path').getByText('/api/postback').waitFor();
  await page.locator('#postback .code').getByText('x-api-key').waitFor();
  // Every body field from the schema appears with its type.
  const fieldNames = await page.locator('#postback tr[data-field]').evaluateAll((trs) => trs.map((t) => t.dataset.field));
  for (const f of ['lead_id', 'email', 'stage', 'form_completion_percent', 'custom_data', 'force_stage']) {
    assert.ok(fieldNames.includes(f), `body field ${f} documented (got ${fieldNames.join(',')})`);
  }
  assert.equal(await page.locator('#stages .stage-list li').count(), stages.length);
  assert.deepEqual((await page.locator('#stages .stage-list .chip').allInnerTexts()).map((s) => s.trim()), stages);
  const curls = await page.locator('#examples .code').allInnerTexts();
  assert.equal(curls.length, 2);
  for (const c of curls) assert.ok(c.includes(`curl -X POST ${server.base}/api/postback`), c);
  assert.ok(curls[0].includes('"first_name": "John"'));
  assert.ok(curls[1].includes('"form_fields_completed": 12'));
  const endpoints = await page.locator('#endpoints tbody tr').allInnerTexts();
  assert.ok(endpoints.some((e) => e.includes('/api/leads')), endpoints.join('\n'));
  assert.ok(endpoints.some((e) => e.includes('/api/analytics')));
  await screenshot(page, 'desktop-docs');
});

test('phone width (390px): overview, board, leads, detail and docs are usable', async () => {
  const { context, page: p, events: ev } = await newPage(browser, { viewport: PHONE });
  try {
    await signIn(p);
    await waitReady(p, 'overview');
    const total = (await server.api.analytics()).total_leads;
    await p.locator('[data-kpi="kpi-total"]').getByText(String(total), { exact: true }).waitFor();
    assert.ok(!(await p.locator('.sidebar .nav').isVisible()) || (await p.locator('.sidebar').boundingBox()).x < -100,
      'sidebar collapses at phone width');
    assert.ok(await p.locator('.menu-btn').isVisible());
    await p.locator('.chart .bar-group').first().waitFor();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal page overflow on overview (${overflow}px)`);
    await screenshot(p, 'phone-overview');

    await p.locator('.menu-btn').click();
    await p.locator('.sidebar .nav-link', { hasText: 'All Leads' }).click();
    await waitReady(p, 'leads');
    const scroll = p.locator('.table-scroll');
    const { sw, cw } = await scroll.evaluate((e) => ({ sw: e.scrollWidth, cw: e.clientWidth }));
    assert.ok(sw > cw, 'the table scrolls horizontally inside its card');
    const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow2 <= 1, `no horizontal page overflow on leads (${overflow2}px)`);
    await screenshot(p, 'phone-leads');

    await p.locator('table.leads-table tbody tr').first().locator('[data-action=open]').click();
    await waitDrawer(p);
    await screenshot(p, 'phone-lead-detail', { fullPage: false });
    await p.locator('[data-action=close-drawer]').click();

    await go('#/board', p);
    const overflow3 = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow3 <= 1, `no horizontal page overflow on the board; its columns scroll inside it (${overflow3}px)`);
    await screenshot(p, 'phone-board');
    await go('#/docs', p); // content is checked by the docs test
    await screenshot(p, 'phone-docs');
    assert.equal(ev.dialogs.length, 0);
    assert.deepEqual(ev.pageErrors, []);
  } finally {
    await context.close();
  }
});

test('a 401 later (key revoked/changed) returns to the sign-in screen', async () => {
  await go(`#/overview`);
  await title(page).getByText('Overview').waitFor();
  // Simulate the server's key changing under an open session.
  await page.evaluate(() => sessionStorage.setItem('leadpipe.adminKey', 'rotated-away'));
  await page.locator('.nav-link', { hasText: 'All Leads' }).click();
  await page.locator('#admin-key').waitFor();
  await page.locator('.notice').getByText('sign in again').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('leadpipe.adminKey')), null);
  await page.locator('#admin-key').fill(ADMIN);
  await page.locator('form.signin-form button[type=submit]').click();
  await title(page).getByText('All Leads').waitFor(); // back where the user was
  assert.deepEqual(events.pageErrors, []);
  assert.equal(events.dialogs.length, 0);
});
