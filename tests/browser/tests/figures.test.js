// Issue 21's figure run: 5,000 realistic leads over 120 days (8 sources, 8 campaigns and none, devices, form
// progress, stage histories with their times; lib/volume.js's `realistic` profile) loaded through the real import path
// (POST /api/import), then 50 live postbacks that retarget some of them (new latest touch, some move on a stage or
// two) and 10 new leads. Every figure Overview, Campaigns and Form Abandonment show is read off the dashboard and
// compared with a recount from the lead rows (GET /api/leads/export; lib/recount.js). Prints
// `figures: compared N, differ M`; M must be 0. The stalled-leads card's exact count (issue 21 #2) is tested here too:
// it needs leads that entered a stage days ago, which only an import can make.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, screenshot, go as goTo, today, addDays, DESKTOP, PHONE,
} from '../lib/harness.js';
import { seedMany, leadBody } from '../lib/seed.js';
import { leadsCsvText, REALISTIC } from '../lib/volume.js';
import {
  createdIn, funnel, topSources, leadsByDay, breakdown, abandonment, stalled, ordersIn, touchValue, payingLeads,
} from '../lib/recount.js';
import { num, pct, duration } from '../../../static-site/js/format.js';
import { delta, rateDelta, deltaText } from '../../../static-site/js/range.js';
import { money, moneyList, sumByCurrency } from '../../../static-site/js/money.js';
import { DECILES } from '../../../static-site/js/breakdown.js';

const ADMIN = 'figures-admin-key';
const INGEST = 'figures-ingest-key';
const N = 5000;
const RETARGETED = 50;
const NEW_LEADS = 10;

let server; let browser; let stages; let leads; let loaded;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  stages = await server.api.stages();
  const t0 = Date.now();
  const csv = leadsCsvText(N, t0, REALISTIC);
  const r = await fetch(`${server.base}/api/import`, { method: 'POST', headers: { 'x-api-key': ADMIN, 'content-type': 'text/csv' }, body: csv });
  const report = await r.json();
  assert.equal(r.status, 200, JSON.stringify(report).slice(0, 500));
  assert.equal(report.imported, N, JSON.stringify(report).slice(0, 500));
  const imported = Date.now() - t0;
  await retarget();
  await seedMany(server.api, NEW_LEADS, (i) => ({ ...leadBody(i, stages), stage: stages[0] }));
  leads = await server.api.listAll({}, 200, '/api/leads/export');
  assert.equal(leads.length, N + NEW_LEADS, 'every lead is exported');
  loaded = `${num(N)} leads imported (${(csv.length / 1e6).toFixed(1)} MB) in ${(imported / 1000).toFixed(1)} s, ${RETARGETED} postbacks, ${NEW_LEADS} new leads`;
  console.log(`figures: ${loaded}`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * 50 postbacks to imported leads spread over the 120 days: a later touch from facebook / black-friday-llc on mobile;
 * one in three also moves the lead on one stage, one in five two stages (skipping one), as live funnels do.
 */
async function retarget() {
  for (let k = 0; k < RETARGETED; k += 1) {
    const i = 37 + k * 97;
    const depth = [0, 1, 1, 1, 2, 2, 3, 4][(i * 7) % 8]; // lib/volume.js: how far lead i got
    const on = k % 5 === 0 ? 2 : k % 3 === 0 ? 1 : 0;
    const body = {
      email: `vol${i}@example.com`, source: 'facebook', campaign: 'black-friday-llc', utm_source: 'facebook',
      utm_campaign: 'black-friday-llc', device_type: 'mobile', domain: 'myeinregistry.com',
    };
    if (on && depth + on < stages.length) body.stage = stages[depth + on];
    await server.api.postback(body);
  }
}

/** The figures compared so far, and those that differ (with where they are). */
function ledger() {
  const diffs = [];
  const per = {};
  let compared = 0;
  return {
    /** Compares one figure as shown (`got`) with its recount (`want`); `where` starts with the screen's name. */
    check(where, got, want) {
      compared += 1;
      const screen = where.split(' ')[0];
      per[screen] = (per[screen] || 0) + 1;
      if (String(got) !== String(want)) diffs.push(`${where}: shown ${JSON.stringify(got)}, recount ${JSON.stringify(want)}`);
    },
    /** Which rows a table shows against the rows of the recount, by value and in order. */
    rows(where, got, want) {
      this.check(`${where} rows`, got.join(' | '), want.join(' | '));
    },
    get compared() { return compared; },
    /** "overview 412, campaigns 1,234, …": figures compared per screen. */
    get perScreen() { return Object.entries(per).map(([k, n]) => `${k} ${num(n)}`).join(', '); },
    diffs,
  };
}

const go = (p, hash) => goTo(p, server.base, hash, ADMIN);
const rangeOf = (days) => ({ from: addDays(today(), -(days - 1)), to: today() });
const previousOf = (r, days) => ({ from: addDays(r.from, -days), to: addDays(r.from, -1) });

// ---------- Overview ----------

/** What the Overview shows: key figures, money cards, funnel, top sources and the daily chart. */
function readOverview(p) {
  return p.evaluate(() => {
    // What the eye sees: the words kept for screen readers (.sr-only) are left out.
    const text = (el) => {
      if (!el) return null;
      const copy = el.cloneNode(true);
      for (const sr of copy.querySelectorAll('.sr-only')) sr.remove();
      return copy.textContent.trim();
    };
    const cmp = (el) => { const c = el && el.querySelector('.cmp'); return c ? { prev: c.dataset.prev, delta: c.dataset.delta } : null; };
    const kpis = {};
    for (const k of document.querySelectorAll('.kpi')) {
      const v = k.querySelector('[data-kpi]');
      kpis[v.dataset.kpi] = { value: text(v), hint: text(k.querySelector('.kpi-hint')), cmp: cmp(k) };
    }
    const rows = [...document.querySelectorAll('.funnel-row')].map((r) => {
      const [reached, now] = r.querySelectorAll('.funnel-fig');
      return { stage: r.dataset.stage, reached: text(r.querySelector('.funnel-reached')), reachedCmp: cmp(reached), now: text(r.querySelector('.funnel-now')), nowCmp: cmp(now) };
    });
    const steps = [...document.querySelectorAll('.funnel-step')].map((s) => {
      const conv = s.querySelector('.step-conv');
      const time = s.querySelector('.step-time');
      return { from: s.dataset.from, conv: conv.firstChild.textContent, convCmp: cmp(conv), time: time.childNodes[1].textContent, timePrev: time.querySelector('.step-time-prev').lastChild.textContent };
    });
    const sources = [...document.querySelectorAll('.hbar')].map((b) => ({ source: b.dataset.source, value: text(b.querySelector('.hbar-value')), cmp: cmp(b.querySelector('.hbar-cmp')) }));
    const bars = [...document.querySelectorAll('.bar-group')].map((g) => ({ date: g.dataset.date, count: g.dataset.count, prev: g.dataset.prev }));
    return { kpis, rows, steps, sources, bars };
  });
}

/**
 * The money of `created` (leads created in `range`) and of the orders `all` placed on the range's days (no spend, no
 * rates: only USD, the reporting currency, is counted; the rest is shown apart).
 */
function moneyOf(all, created, range) {
  const orders = ordersIn(all, range);
  const usd = orders.filter((o) => o.currency === 'USD');
  const revenue = usd.reduce((a, o) => a + o.minor, 0);
  const div = (a, b) => (b ? { minor: Math.round(a / b), currency: 'USD' } : null);
  return {
    revenue: { minor: revenue, currency: 'USD' },
    notConverted: sumByCurrency(orders.filter((o) => o.currency !== 'USD').map((o) => ({ minor: o.minor, currency: o.currency }))),
    orders: orders.length,
    paying: payingLeads(created),
    aov: div(revenue, usd.length), // the average of the orders whose amount is counted
    perLead: div(revenue, created.length),
  };
}

/** Compares the Overview of the last `days` days with the recount of both periods. */
async function compareOverview(p, days, fig) {
  const range = rangeOf(days);
  const before = previousOf(range, days);
  await go(p, `#/overview?range=${days}d`);
  const shown = await readOverview(p);
  const cur = createdIn(leads, range);
  const prev = createdIn(leads, before);
  const at = (what) => `overview ${days}d ${what}`;
  const k = shown.kpis;
  const count = (where, got, c, pv) => {
    fig.check(where, got.value ?? got, num(c));
    if (got.cmp) { fig.check(`${where} prev`, got.cmp.prev, num(pv)); fig.check(`${where} change`, got.cmp.delta, deltaText(delta(c, pv))); }
  };
  count(at('new leads'), k['kpi-new'], cur.length, prev.length);
  fig.check(at('total leads'), k['kpi-total'].value, num(leads.length));
  fig.check(at('new today'), k['kpi-today'].value, num(createdIn(leads, rangeOf(1)).length));
  const fc = funnel(cur, stages);
  const fp = funnel(prev, stages);
  const paidAt = stages.findIndex((s) => s.toLowerCase() === 'paid');
  const paid = (f, n) => (n ? f[paidAt].reached / n : null);
  fig.check(at('paid conversion'), k['kpi-paid'].value, pct(paid(fc, cur.length)));
  fig.check(at('paid conversion hint'), k['kpi-paid'].hint, `${num(fc[paidAt].reached)} of ${num(cur.length)} new leads reached ${stages[paidAt]}`);
  fig.check(at('paid conversion prev'), k['kpi-paid'].cmp.prev, pct(paid(fp, prev.length)));
  fig.check(at('paid conversion change'), k['kpi-paid'].cmp.delta, deltaText(rateDelta(paid(fc, cur.length), paid(fp, prev.length))));
  compareMoney(k, moneyOf(leads, cur, range), moneyOf(leads, prev, before), at, fig);

  fig.rows(at('funnel'), shown.rows.map((r) => r.stage), stages);
  shown.rows.forEach((r, i) => {
    fig.check(at(`funnel ${r.stage} reached`), r.reached, `${num(fc[i].reached)} reached`);
    fig.check(at(`funnel ${r.stage} reached prev`), r.reachedCmp.prev, num(fp[i].reached));
    fig.check(at(`funnel ${r.stage} reached change`), r.reachedCmp.delta, deltaText(delta(fc[i].reached, fp[i].reached)));
    fig.check(at(`funnel ${r.stage} now`), r.now, `${num(fc[i].count)} now`);
    fig.check(at(`funnel ${r.stage} now prev`), r.nowCmp.prev, num(fp[i].count));
    fig.check(at(`funnel ${r.stage} now change`), r.nowCmp.delta, deltaText(delta(fc[i].count, fp[i].count)));
  });
  fig.rows(at('funnel steps'), shown.steps.map((s) => s.from), stages.slice(0, -1));
  shown.steps.forEach((s, i) => {
    fig.check(at(`${s.from} conversion`), s.conv, pct(fc[i].conversion_to_next));
    fig.check(at(`${s.from} conversion prev`), s.convCmp.prev, pct(fp[i].conversion_to_next));
    fig.check(at(`${s.from} conversion change`), s.convCmp.delta, deltaText(rateDelta(fc[i].conversion_to_next, fp[i].conversion_to_next)));
    fig.check(at(`${s.from} time to next`), s.time, duration(fc[i].avg_seconds_to_next));
    fig.check(at(`${s.from} time to next prev`), s.timePrev, duration(fp[i].avg_seconds_to_next));
  });

  const sc = topSources(cur);
  const prevCount = new Map(topSources(prev).map((s) => [s.source, s.count]));
  const wantSources = [...sc.map((s) => ({ ...s, prev: prevCount.get(s.source) || 0 })),
    ...[...prevCount].filter(([s]) => !sc.some((x) => x.source === s)).map(([source, c]) => ({ source, count: 0, prev: c }))].slice(0, 12);
  fig.rows(at('sources'), shown.sources.map((s) => s.source), wantSources.map((s) => s.source));
  for (const s of shown.sources) {
    const w = wantSources.find((x) => x.source === s.source) || { count: 0, prev: 0 };
    fig.check(at(`source ${s.source}`), s.value, `${num(w.count)}${cur.length ? ` · ${Math.round((w.count / cur.length) * 100)}%` : ''}`);
    fig.check(at(`source ${s.source} prev`), s.cmp.prev, num(w.prev));
    fig.check(at(`source ${s.source} change`), s.cmp.delta, deltaText(delta(w.count, w.prev)));
  }

  const dc = leadsByDay(cur, range);
  const dp = leadsByDay(prev, before);
  fig.rows(at('chart days'), shown.bars.map((b) => b.date), dc.map((d) => d.date));
  shown.bars.forEach((b, i) => {
    fig.check(at(`chart ${b.date}`), b.count, dc[i] ? dc[i].count : null);
    fig.check(at(`chart ${b.date} prev`), b.prev, dp[i] ? dp[i].count : null);
  });
  return shown;
}

/** The money cards: amounts, orders, paying leads and the figures that need spend ("—": there is none). */
function compareMoney(k, m, pm, at, fig) {
  fig.check(at('revenue'), k['kpi-revenue'].value, money(m.revenue));
  fig.check(at('revenue prev'), k['kpi-revenue'].cmp.prev, money(pm.revenue));
  fig.check(at('orders'), (/^([\d,]+) orders? placed/.exec(k['kpi-revenue'].hint) || [])[1], num(m.orders));
  fig.check(at('revenue not converted'), (/\+ (.*) not converted$/.exec(k['kpi-revenue'].hint) || [])[1], moneyList(m.notConverted));
  for (const [key, label] of [['kpi-spend', 'spend'], ['kpi-profit', 'profit'], ['kpi-roas', 'ROAS'], ['kpi-cpl', 'CPL']]) fig.check(at(label), k[key].value, '—');
  fig.check(at('paying leads'), k['kpi-paying'].value, num(m.paying));
  fig.check(at('paying leads prev'), k['kpi-paying'].cmp.prev, num(pm.paying));
  fig.check(at('average order'), k['kpi-aov'].value, money(m.aov));
  fig.check(at('average order prev'), k['kpi-aov'].cmp.prev, money(pm.aov));
  fig.check(at('revenue per lead'), k['kpi-rpl'].value, money(m.perLead));
  fig.check(at('revenue per lead prev'), k['kpi-rpl'].cmp.prev, money(pm.perLead));
}

// ---------- tables ----------

/** The rows of the table in `host`: [{value, cells: {data-col or decile index: text}}]. */
function readTable(p, host) {
  return p.locator(host).evaluate((el) => {
    const shown = (td) => {
      const copy = td.cloneNode(true);
      for (const sr of copy.querySelectorAll('.sr-only')) sr.remove();
      return copy.textContent.trim();
    };
    return [...el.querySelectorAll('tbody tr[data-value]')].map((tr) => ({
      value: tr.dataset.value,
      cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col ?? `decile:${td.dataset.decile}`, shown(td)])),
    }));
  });
}

/** The cell texts a Campaigns row should show: leads, then per later stage reached, step %, of leads % and time. */
function campaignCells(r) {
  const cells = { leads: num(r.leads) };
  stages.forEach((st, i) => {
    if (!i) return;
    cells[`reached:${st}`] = num(r.reached[st]);
    cells[`step:${st}`] = pct(r.step_conversion[stages[i - 1]]);
    cells[`overall:${st}`] = pct(r.overall_conversion[st]);
    cells[`time:${st}`] = duration(r.avg_seconds_to[st]);
  });
  return cells;
}

/**
 * Compares a table's rows and every cell with the recount's. `order` 'exact': the rows in the recount's order;
 * 'leads': the same rows, busiest first (rows with as many leads are ranked by money, which is not recounted here).
 */
function compareRows(where, shown, want, cellsOf, fig, order = 'exact') {
  const values = (rows) => rows.map((r) => r.value);
  if (order === 'exact') fig.rows(where, values(shown), values(want));
  else {
    fig.rows(where, values(shown).sort(), values(want).sort());
    const leads = shown.map((r) => Number(r.cells.leads.replace(/,/g, '')));
    fig.check(`${where} busiest first`, leads.every((n, i) => !i || n <= leads[i - 1]), true);
  }
  for (const row of shown) {
    const w = want.find((x) => x.value === row.value);
    if (!w) continue;
    for (const [col, text] of Object.entries(cellsOf(w))) fig.check(`${where} ${row.value} ${col}`, row.cells[col], text);
  }
}

/** The cell texts of a row of the Campaigns money view, for the leads of the row's value (`all`: any creation day). */
function moneyCells(range, all, by, touch) {
  return (r) => {
    const created = createdIn(all, range).filter((l) => touchValue(l, by, touch) === r.value);
    const m = moneyOf(all.filter((l) => touchValue(l, by, touch) === r.value), created, range);
    return {
      leads: num(r.leads),
      'money:revenue': `${money(m.revenue)}${m.notConverted.length ? `+ ${moneyList(m.notConverted)}` : ''}`,
      'money:paying_leads': num(m.paying),
      'money:spend': '—', 'money:cpl': '—', 'money:cpa': '—', 'money:roas': '—', 'money:roi': '—', 'money:profit': '—',
      'money:revenue_per_lead': money(m.perLead),
      'money:average_order_value': money(m.aov),
    };
  };
}

/** Campaigns over the last 90 days, by every dimension at first and at latest touch; money by campaign and source. */
async function compareCampaigns(p, fig) {
  const range = rangeOf(90);
  const cur = createdIn(leads, range);
  for (const by of ['campaign', 'source', 'domain', 'device_type']) {
    for (const touch of ['first', 'latest']) {
      await go(p, `#/campaigns?range=90d&by=${by}&touch=${touch}`);
      await p.locator(`table.report-table[data-by="${by}"][data-touch="${touch}"]`).waitFor();
      const where = `campaigns 90d by ${by} ${touch} touch`;
      const want = breakdown(cur, stages, by, touch);
      compareRows(where, await readTable(p, '.table-host'), want, campaignCells, fig, 'leads');
      const summary = await p.locator('.table-toolbar .summary').innerText();
      fig.check(`${where} summary`, (/^([\d,]+) \S+ values? · ([\d,]+) leads/.exec(summary) || []).slice(1).join(' / '), `${num(want.length)} / ${num(cur.length)}`);
      if (by !== 'campaign' && by !== 'source') continue;
      await go(p, `#/campaigns?range=90d&by=${by}&touch=${touch}&view=money`);
      await p.locator(`table.report-money[data-by="${by}"][data-touch="${touch}"]`).waitFor();
      compareRows(`${where} money`, await readTable(p, '.table-host'), want, moneyCells(range, leads, by, touch), fig, 'leads');
    }
  }
}

/** The cell texts of a Form Abandonment row, with leads that never started the form left out or counted. */
function abandonCells(withNever) {
  return (r) => {
    const never = withNever ? 0 : r.never_started;
    const stopped = r.stopped - never;
    const dec = [r.deciles[0] - never, ...r.deciles.slice(1)];
    const max = Math.max(...dec);
    const peak = max > 0 ? dec.indexOf(max) : -1;
    const cells = {
      leads: num(r.leads), stopped: `${num(stopped)}${r.leads ? ` (${pct(stopped / r.leads)})` : ''}`, never: num(r.never_started),
      peak: peak < 0 ? '—' : `${DECILES[peak]}${dec.filter((n) => n === max).length > 1 ? ' (tied)' : ''}`,
    };
    dec.forEach((n, i) => { cells[`decile:${i}`] = num(n); });
    return cells;
  };
}

/** Form Abandonment over the last 90 days: both tables without and with never-started leads, then stalled leads. */
async function compareAbandonment(p, fig) {
  const range = rangeOf(90);
  const cur = createdIn(leads, range);
  await go(p, '#/abandonment?range=90d');
  for (const withNever of [false, true]) {
    if (withNever) await p.locator('#a-never').check();
    for (const by of ['campaign', 'device_type']) {
      const where = `abandonment 90d by ${by}${withNever ? ' with never-started' : ''}`;
      compareRows(where, await readTable(p, `.table-host[data-by="${by}"]`), abandonment(cur, by), abandonCells(withNever), fig);
    }
  }
  for (const [stage, hours] of [[stages[1], 24], [stages[1], 72], [stages[0], 1], [stages[2], 48], [stages[3], 12]]) {
    await go(p, `#/abandonment?range=90d&stage=${encodeURIComponent(stage)}&idle=${hours}`);
    const summary = await exactStalledSummary(p);
    const want = stalled(cur, stage, hours, Date.now());
    fig.check(`abandonment stalled ${stage} > ${hours} h`, summary, `${num(want)} lead${want === 1 ? '' : 's'} in ${stage} for more than ${num(hours)} hour${hours === 1 ? '' : 's'}`);
  }
}

/** The stalled-leads summary once its total is exact (the count answered), up to " created …". */
async function exactStalledSummary(p) {
  await p.locator('.idle-summary[data-total-exact="true"]').waitFor();
  return (await p.locator('.idle-summary').innerText()).replace(/, created .*$/, '');
}

test(`figures: every figure of Overview, Campaigns and Form Abandonment equals a recount of the ${num(N)} leads`, async () => {
  const t0 = Date.now();
  const { context, page } = await newPage(browser, { viewport: DESKTOP });
  try {
    const fig = ledger();
    await compareOverview(page, 30, fig);
    await screenshot(page, 'desktop-figures-overview-30d');
    await compareOverview(page, 90, fig);
    await compareCampaigns(page, fig);
    await compareAbandonment(page, fig);
    console.log(`figures: compared ${fig.compared}, differ ${fig.diffs.length} (${fig.perScreen}; ${loaded}; read and recounted in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    for (const d of fig.diffs.slice(0, 40)) console.log(`  differs: ${d}`);
    assert.equal(fig.diffs.length, 0, fig.diffs.slice(0, 10).join('\n'));
    assert.ok(fig.compared >= 500, `hundreds of figures compared (${fig.compared})`);
  } finally {
    await context.close();
  }
});

/** The stalled-leads card for `stage` and `hours` over the last 90 days, in a fresh document. */
const openStalled = (p, stage, hours) => go(p, `#/abandonment?range=90d&stage=${encodeURIComponent(stage)}&idle=${hours}`);
const isCount = (url) => url.pathname === '/api/leads/count';

test('stalled leads: past the listing\'s count budget ("1,000+") the card asks GET /api/leads/count for the same filter and shows the exact number; stale and failed counts keep the lower bound', async () => {
  const stage = stages[1];
  const range = rangeOf(90);
  const filter = { stage, idle_hours: '24', from: range.from, to: range.to };
  const listing = await server.api.page({ ...filter, limit: 50 });
  assert.equal(listing.total_exact, false, 'precondition: the listing answers a lower bound');
  const truth = stalled(createdIn(leads, range), stage, 24, Date.now());
  assert.ok(truth > 1000, `precondition: more than 1,000 stalled leads in ${stage} (${truth})`);
  const { context, page } = await newPage(browser, { viewport: DESKTOP });
  try {
    const asked = page.waitForRequest((r) => isCount(new URL(r.url())));
    await openStalled(page, stage, 24);
    assert.deepEqual(Object.fromEntries(new URL((await asked).url()).searchParams), filter, 'the listing\'s filter, without limit or cursor');
    assert.equal(await exactStalledSummary(page), `${num(truth)} leads in ${stage} for more than 24 hours`);
    assert.match(await page.locator('.idle-summary').innerText(), /· showing 50$/);
    await page.locator('.idle-summary').scrollIntoViewIfNeeded();
    await screenshot(page, 'desktop-stalled-exact', { fullPage: false });
    // "Load more" keeps the exact count.
    await page.locator('[data-action=idle-more]').click();
    await page.locator('.idle-summary', { hasText: '· showing 100' }).waitFor();
    assert.equal(await exactStalledSummary(page), `${num(truth)} leads in ${stage} for more than 24 hours`);

    // A count answering after the filter changed is dropped: hold the 24 h count until the 72 h one has answered.
    let release;
    const held = new Promise((r) => { release = r; });
    await context.route((url) => isCount(url) && url.searchParams.get('idle_hours') === '24', async (route) => { await held; await route.continue(); });
    const holding = page.waitForRequest((r) => isCount(new URL(r.url())) && new URL(r.url()).searchParams.get('idle_hours') === '24');
    await openStalled(page, stage, 24);
    const heldRequest = await holding;
    await page.locator('.idle-summary[data-counting="true"]', { hasText: '1,000+ leads' }).waitFor();
    await page.locator('#i-hours').fill('72');
    await page.locator('#i-hours').dispatchEvent('change');
    const at72 = stalled(createdIn(leads, range), stage, 72, Date.now());
    assert.equal(await exactStalledSummary(page), `${num(at72)} leads in ${stage} for more than 72 hours`);
    const finished = page.waitForEvent('requestfinished', (r) => r === heldRequest);
    release();
    await finished;
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))); // the app has run
    assert.equal(await exactStalledSummary(page), `${num(at72)} leads in ${stage} for more than 72 hours`, 'the late 24 h answer is ignored');

    // A failed count leaves the lower bound.
    await context.unrouteAll();
    await context.route((url) => isCount(url), (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"boom"}' }));
    await openStalled(page, stage, 24);
    await page.locator('.idle-summary[data-counting="false"][data-total-exact="false"]', { hasText: '1,000+ leads' }).waitFor();
  } finally {
    await context.close();
  }
  const phone = await newPage(browser, { viewport: PHONE });
  try {
    await openStalled(phone.page, stage, 24);
    assert.equal(await exactStalledSummary(phone.page), `${num(truth)} leads in ${stage} for more than 24 hours`);
    await phone.page.locator('.idle-summary').scrollIntoViewIfNeeded();
    await screenshot(phone.page, 'phone-stalled-exact', { fullPage: false });
  } finally {
    await phone.context.close();
  }
});
