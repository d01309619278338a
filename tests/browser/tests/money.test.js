// Money on the dashboard (issue 22): the lead drawer's orders (add, edit, remove, kept apart, history), the All Leads
// revenue column and its CSV, the Overview money cards, the Campaigns money columns and the Board's column value, each
// checked against the API. Orders are seeded by server-key postbacks in USD, JPY and BHD.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startServer, launchBrowser, newPage, screenshot, go as goTo, waitDrawer, parseCsv, DESKTOP, PHONE, SCREENSHOT_DIR,
} from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';
import { shownText, spokenText } from '../lib/a11y-text.js';

const ADMIN = 'money-admin-key';
const INGEST = 'money-ingest-key';

let server; let browser; let page; let events; let stages;
const ids = {};

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  stages = await server.api.stages();
  const paid = stages.includes('Paid') ? 'Paid' : stages[stages.length - 1];
  const post = (b) => server.api.postback(b);
  // Ann: two USD orders and a JPY one (revenue in two currencies), one value kept apart.
  ids.ann = (await post({ email: 'ann@example.com', first_name: 'Ann', stage: paid, source: 'google', campaign: 'spring-sale', value: 49.99, currency: 'USD', order_id: 'A-1' })).lead_id;
  await post({ email: 'ann@example.com', value: '10.01', currency: 'USD', order_id: 'A-2' });
  await post({ email: 'ann@example.com', value: 1500, currency: 'JPY', order_id: 'J-1' });
  await post({ email: 'ann@example.com', value: '12,x', currency: 'USD', order_id: 'X-1' });
  // Bob: BHD, three decimals.
  ids.bob = (await post({ email: 'bob@example.com', first_name: 'Bob', stage: stages[1], source: 'facebook', campaign: 'autumn', value: '1.234', currency: 'BHD', order_id: 'B-1' })).lead_id;
  // Cy: USD only, another campaign; Dee: no order at all.
  ids.cy = (await post({ email: 'cy@example.com', first_name: 'Cy', stage: paid, source: 'google', campaign: 'autumn', value: '120', currency: 'USD', order_id: 'C-1' })).lead_id;
  ids.dee = (await post({ email: 'dee@example.com', first_name: 'Dee', stage: stages[0], source: 'bing', campaign: 'spring-sale' })).lead_id;
  browser = await launchBrowser();
  ({ page, events } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const go = (hash, p = page) => goTo(p, server.base, hash, ADMIN);
const lead = async (id) => (await server.api.lead(id)).json.lead;
const settledDrawer = (id, p = page) => waitDrawer(p, id);
const apiOrder = async (id, orderId) => (await lead(id)).orders.find((o) => o.order_id === orderId);

test('drawer: orders with amounts in their currency, kept apart with the reason, revenue per currency', async () => {
  await go(`#/leads/${ids.ann}`);
  await settledDrawer(ids.ann);
  const d = page.locator('.drawer');
  assert.equal(await d.locator('.orders-total').getAttribute('data-revenue'), '1500 JPY; 60.00 USD');
  assert.equal(await d.locator('.order[data-order-id="A-1"] .order-amount').getAttribute('data-amount'), '49.99 USD');
  assert.match(await d.locator('.order[data-order-id="A-1"] .order-amount').innerText(), /49\.99/);
  assert.match(await d.locator('.order[data-order-id="J-1"] .order-amount').innerText(), /1,500/);
  assert.doesNotMatch(await d.locator('.order[data-order-id="J-1"] .order-amount').innerText(), /1,500\.0/, 'yen has no decimals');
  const apart = d.locator('.order[data-order-id="X-1"]');
  assert.match(await apart.innerText(), /kept apart/);
  assert.match(await apart.locator('.order-apart-note').innerText(), /Not counted: "12,x" is not a number/);
  assert.match(await d.locator('.order[data-order-id="A-1"] .order-meta').innerText(), /via postback/);
  assert.equal(await d.locator('.order[data-order-id="A-1"] .order-meta .chip').innerText(), (await lead(ids.ann)).orders[0].stage);

  await page.goto('about:blank');
  await go(`#/leads/${ids.bob}`);
  await settledDrawer(ids.bob);
  assert.equal(await page.locator('.drawer .orders-total').getAttribute('data-revenue'), '1.234 BHD', 'three decimals');
  assert.match(await page.locator('.drawer .order[data-order-id="B-1"] .order-amount').innerText(), /1\.234/);
});

test('drawer: add an order (inline error from the API\'s field), edit its amount, remove it (confirmed), history kept', async () => {
  await go(`#/leads/${ids.dee}`);
  await settledDrawer(ids.dee);
  const d = page.locator('.drawer');
  assert.match(await d.locator('.orders-none').innerText(), /No orders yet/);
  await d.locator('[data-action=add-order]').click();
  const form = d.locator('form.order-form');
  await form.locator('input[name=value]').fill('abc');
  await form.locator('input[name=currency]').fill('usd');
  await form.locator('input[name=order_id]').fill('D-1');
  await form.locator('[data-action=save-order]').click();
  const err = form.locator('input[name=value][aria-invalid=true]');
  await err.waitFor();
  assert.match(await form.locator('.order-field-value .field-error').innerText(), /not a number/);
  assert.equal(await page.evaluate(() => document.activeElement.name), 'value', 'focus on the field in error');
  assert.equal((await lead(ids.dee)).orders, undefined, 'nothing saved');

  await form.locator('input[name=value]').fill('19.90');
  await form.locator('[data-action=save-order]').click();
  await d.locator('.order[data-order-id="D-1"]').waitFor();
  await settledDrawer(ids.dee);
  const added = await apiOrder(ids.dee, 'D-1');
  assert.deepEqual(added.value, { minor: 1990, currency: 'USD' });
  assert.equal(added.via, 'admin');
  assert.equal(await d.locator('.orders-total').getAttribute('data-revenue'), '19.90 USD');
  assert.match(await d.locator('.order[data-order-id="D-1"] .order-meta').innerText(), /added by an admin/);
  await screenshot(page, 'money-drawer-added-desktop', { fullPage: false });

  // Edit: 19.90 → 25.5 USD, the earlier amount kept in the order's changes.
  await d.locator('.order[data-order-id="D-1"] [data-action=edit-order]').click();
  const edit = d.locator('.order[data-order-id="D-1"] form.order-form');
  await edit.locator('input[name=value]').fill('25.5');
  await edit.locator('[data-action=save-order]').click();
  await d.locator('.order[data-order-id="D-1"] .order-amount[data-amount="25.50 USD"]').waitFor();
  await settledDrawer(ids.dee);
  assert.deepEqual((await apiOrder(ids.dee, 'D-1')).value, { minor: 2550, currency: 'USD' });
  assert.match(await d.locator('.order[data-order-id="D-1"] .order-changes').innerText(), /changed, was \$19\.90/);

  // Remove: asks first; Cancel keeps it, Confirm strikes it through.
  await d.locator('.order[data-order-id="D-1"] [data-action=remove-order]').click();
  await page.locator('.dialog [data-action=cancel]').click();
  assert.equal((await apiOrder(ids.dee, 'D-1')).removed_at, undefined, 'cancel keeps the order');
  await d.locator('.order[data-order-id="D-1"] [data-action=remove-order]').click();
  await page.locator('.dialog [data-action=confirm]').click();
  await d.locator('.order.order-removed[data-order-id="D-1"]').waitFor();
  await settledDrawer(ids.dee);
  const gone = await apiOrder(ids.dee, 'D-1');
  assert.ok(gone.removed_at, 'removed in the API');
  assert.equal(await d.locator('.order[data-order-id="D-1"] s.order-amount').count(), 1, 'struck through');
  assert.equal(await d.locator('.orders-total').getAttribute('data-revenue'), '', 'no revenue left');
  assert.match(await d.locator('.order[data-order-id="D-1"] .order-changes').innerText(), /removed, was \$25\.50/);
  await screenshot(page, 'money-drawer-removed-desktop', { fullPage: false });
  assert.deepEqual(events.pageErrors, []);
});

test('drawer: layout at 1440×900 and 390×844', async () => {
  for (const [tag, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const { page: p, context } = await newPage(browser, { viewport });
    await go(`#/leads/${ids.ann}`, p);
    await settledDrawer(ids.ann, p);
    await p.locator('.drawer [data-action=add-order]').click();
    const defects = await layoutDefects(p, '.drawer .order-head > *, .drawer .order-meta, .drawer .orders-total > *, .drawer .order-form input, .drawer .order-form label');
    await p.locator('.section-orders').screenshot({ path: `${SCREENSHOT_DIR}/money-drawer-orders-${tag}.png` });
    assert.deepEqual(defects, [], `${tag}: orders layout`);
    await context.close();
  }
});

test('All Leads: a Revenue column per currency, sorted by the server across pages, and in the CSV as decimal text', async () => {
  await go('#/leads');
  const cellOf = (id) => page.locator(`tr[data-lead-id="${id}"] td[data-col=revenue]`);
  assert.equal(await cellOf(ids.ann).getAttribute('title'), '1500 JPY; 60.00 USD');
  assert.match(await shownText(cellOf(ids.ann)), /¥1,500 · \$60\.00/);
  assert.match(await shownText(cellOf(ids.bob)), /1\.234/);
  assert.equal(await shownText(cellOf(ids.dee)), '—', 'its order was removed');
  assert.match(await spokenText(cellOf(ids.ann)), /1,500 Japanese yen, 60\.00 US dollars/, 'read with the currencies in words');
  assert.equal(await spokenText(cellOf(ids.dee)), 'no orders');
  // The server orders by revenue in the reporting currency (USD here, no JPY or BHD rate: those amounts are left
  // out of the rank) and lists only the leads with counted orders: Dee's only order was removed.
  const rows = () => page.locator('table.leads-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.leadId));
  const listed = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/leads' && new URL(r.url()).searchParams.get('sort') === 'revenue');
  await page.locator('[data-action=sort-revenue]').click();
  await listed;
  await page.locator('th[data-col=revenue][aria-sort=descending]').waitFor();
  await page.locator('[data-revenue-sort=revenue]').waitFor();
  assert.deepEqual(await rows(), [ids.cy, ids.ann, ids.bob], 'highest first; a lead without orders is not listed');
  const api = await server.api.page({ sort: 'revenue', limit: 1 });
  assert.deepEqual([api.leads[0].id, api.leads[0].revenue_reporting_minor, api.total], [ids.cy, 12000, 3]);
  const second = await server.api.page({ sort: 'revenue', limit: 1, cursor: api.next_cursor });
  assert.deepEqual([second.leads[0].id, second.leads[0].revenue_reporting_minor], [ids.ann, 6000], 'the next page continues the order');
  assert.match(page.url(), /sort=revenue/);
  await screenshot(page, 'money-leads-desktop', { fullPage: false });
  await page.locator('[data-action=sort-revenue]').click();
  await page.locator('th[data-col=revenue][aria-sort=ascending]').waitFor();
  await page.locator('[data-revenue-sort=revenue_asc]').waitFor();
  assert.deepEqual(await rows(), [ids.bob, ids.ann, ids.cy], 'lowest first');
  await page.locator('#f-sort').selectOption('newest');
  await page.locator('th[data-col=revenue][aria-sort=none]').waitFor();
  await page.locator(`tr[data-lead-id="${ids.dee}"]`).waitFor();

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action=export-csv]').click()]);
  const csv = parseCsv(readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, ''));
  const col = (n) => csv[0].indexOf(n);
  const row = (id) => csv.find((r) => r[col('id')] === id);
  assert.equal(row(ids.ann)[col('revenue')], '1500 JPY; 60.00 USD');
  assert.equal(row(ids.bob)[col('revenue')], '1.234 BHD');
  assert.equal(row(ids.cy)[col('revenue')], '120.00 USD');
  assert.equal(row(ids.dee)[col('revenue')], '');
  assert.equal(row(ids.ann)[col('orders')], '3', 'counted orders (not the kept-apart one)');
});

test('Overview: money cards are the analytics API\'s money, "—" where it is null, not-converted amounts apart', async () => {
  await go('#/overview');
  const a = await server.api.analytics({ from: await page.locator('#ov-from').inputValue(), to: await page.locator('#ov-to').inputValue() });
  const m = a.money;
  const card = (k) => page.locator(`[data-kpi="kpi-${k}"]`);
  assert.match(await card('revenue').innerText(), new RegExp(m.revenue.amount.replace('.', '\\.')));
  assert.equal(m.spend, null, 'no spend rows in this test');
  assert.equal(await shownText(card('spend')), '—');
  assert.equal(await shownText(card('roas')), '—');
  assert.equal(await shownText(card('cpl')), '—');
  assert.equal(await shownText(card('profit')), '—');
  assert.equal(await card('paying').innerText(), String(m.paying_leads));
  assert.match(await card('aov').innerText(), new RegExp(m.average_order_value.amount.replace('.', '\\.')));
  assert.equal(await page.locator('.kpi-revenue .cmp').getAttribute('data-delta'), m.revenue.minor ? 'new' : 'no change', 'nothing in the previous period');
  if (m.revenue_not_converted.length) {
    const nc = await page.locator('[data-not-converted=revenue]').innerText();
    for (const x of m.revenue_not_converted) assert.match(nc, new RegExp(x.currency === 'JPY' ? '1,500' : x.amount.replace('.', '\\.')));
  }
  await screenshot(page, 'money-overview-desktop', { fullPage: false });
});

test('Campaigns: the money view is the breakdown API per row, sortable, and the CSV carries decimal text', async () => {
  await go('#/campaigns?view=money');
  const from = await page.locator('#c-from').inputValue();
  const to = await page.locator('#c-to').inputValue();
  const bd = await server.api.breakdown({ by: 'campaign', touch: 'first', from, to });
  await page.locator('.report-table[data-view=money]').waitFor();
  for (const r of bd.rows) {
    const tr = page.locator(`.report-table tbody tr[data-value="${r.value}"]`);
    assert.equal(await tr.locator('td[data-col="money:revenue"]').getAttribute('data-minor'), String(r.money.revenue.minor), `${r.value} revenue`);
    assert.equal(await shownText(tr.locator('td[data-col="money:spend"]')), '—', 'no spend');
    assert.equal(await shownText(tr.locator('td[data-col="money:roas"]')), '—');
    assert.equal(await shownText(tr.locator('td[data-col="money:cpa"]')), '—');
    assert.equal(await tr.locator('td[data-col="money:paying_leads"]').innerText(), String(r.money.paying_leads));
  }
  await page.locator('.report-table th[data-col="money:revenue"] button').click();
  await page.locator('.report-table th[data-col="money:revenue"][aria-sort=descending]').waitFor();
  const shown = await page.locator('.report-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.value));
  const want = [...bd.rows].sort((x, y) => y.money.revenue.minor - x.money.revenue.minor).map((r) => r.value);
  assert.deepEqual(shown, want, 'sorted by revenue, highest first');
  const off = await page.evaluate(() => [...document.querySelectorAll('#content table thead th')]
    .filter((th) => th.getBoundingClientRect().right > Math.min(window.innerWidth, th.closest('.table-scroll').getBoundingClientRect().right) + 0.5).map((th) => th.innerText));
  assert.deepEqual(off, [], 'every money column on screen at 1440 px');
  await screenshot(page, 'money-campaigns-desktop', { fullPage: false });

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action=export-breakdown]').click()]);
  const csv = parseCsv(readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, ''));
  const cur = bd.rows[0].money.revenue.currency;
  const rc = csv[0].indexOf(`revenue (${cur})`);
  assert.ok(rc > 0, csv[0].join(','));
  for (const r of bd.rows) assert.equal(csv.find((x) => x[0] === r.value)[rc], r.money.revenue.amount, `${r.value} in the CSV`);
  assert.equal(csv.find((x) => x[0] === bd.rows[0].value)[csv[0].indexOf(`spend (${cur})`)], '', 'no spend: empty, not 0');
});

test('Board: each column\'s value and weighted value are the pipeline API\'s, with the weighted total', async () => {
  await go('#/board');
  const pv = (await server.api.call('GET', '/api/analytics/pipeline', { key: ADMIN })).json;
  for (const st of pv.stages) {
    const line = page.locator(`.column[data-stage="${st.stage}"] .col-money`);
    assert.equal(await line.getAttribute('data-value'), st.value.amount, `${st.stage} value`);
    assert.equal(await line.getAttribute('data-weighted'), st.weighted.amount, `${st.stage} weighted`);
  }
  assert.match(await page.locator('.pipeline-money [data-money=weighted]').innerText(), new RegExp(pv.weighted_total.amount.replace('.', '\\.')));
  assert.match(await page.locator('.pipeline-money').innerText(), /all time/);
  await screenshot(page, 'money-board-desktop', { fullPage: false });
  await go('#/board?source=google');
  assert.match(await page.locator('.pipeline-money').innerText(), /filters above do not apply/);
});

test('money screens at 390×844: nothing overlaps or is cut', async () => {
  const { page: p, context } = await newPage(browser, { viewport: PHONE });
  try {
    await go('#/overview', p);
    assert.deepEqual(await layoutDefects(p, '.kpis-money .kpi-label, .kpis-money .kpi-value, .kpis-money .kpi-cmp, .kpis-money .kpi-hint', { offscreen: true }), []);
    await screenshot(p, 'money-overview-phone');
    await p.locator('.kpis-money').screenshot({ path: `${SCREENSHOT_DIR}/money-overview-cards-phone.png` });
    await go('#/campaigns?view=money', p);
    await p.locator('.report-table[data-view=money]').waitFor();
    await screenshot(p, 'money-campaigns-phone');
    await go('#/board', p);
    assert.deepEqual(await layoutDefects(p, '.pipeline-money, .column:first-child .col-money', { noClip: [] }), []);
    await screenshot(p, 'money-board-phone', { fullPage: false });
    await go('#/leads', p);
    await screenshot(p, 'money-leads-phone', { fullPage: false });
  } finally {
    await context.close();
  }
});
