// Fast with volume: with 100,000 leads loaded, how long each screen takes to paint its content, printed (these are
// figures to read, not timed assertions). The database is built once through the real import path
// (`leadpipe import FILE --db`, lib/volume-db.js) and cached in artifacts/volume/ (keyed by the row count and the
// generator); scripts/browser-tests.sh builds it before the timed run. Delete that directory to rebuild it.
// LEADPIPE_VOLUME sets the row count (default 100000; 0 skips the test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launchBrowser, newPage, go as goTo, waitDrawer } from '../lib/harness.js';
import { volumeDb, VOLUME as N } from '../lib/volume-db.js';
import { spendCsvFiles, ratesCsv } from '../lib/volume.js';

const ADMIN = 'volume-admin-key';
let server; let browser; let page;

before(async () => {
  if (!N) return;
  const { db, built } = await volumeDb();
  console.log(built
    ? `volume: built ${N.toLocaleString('en-US')} leads: CSV generated in ${built.generated} ms, leadpipe import in ${(built.imported / 1000).toFixed(1)} s (cached in artifacts/volume/)`
    : `volume: ${N.toLocaleString('en-US')} leads from the cached database ${path.basename(db)}`);
  server = await startServer({ adminKey: ADMIN, db });
  // A year of daily spend for 50 campaigns × 6 sources (109,500 rows) and daily rates for the order currencies,
  // through the import API as a marketer loads them.
  const t0 = Date.now();
  const csv = async (p, body) => {
    const r = await fetch(server.base + p, { method: 'POST', headers: { 'x-api-key': ADMIN, 'content-type': 'text/csv' }, body });
    const json = await r.json();
    assert.equal(r.status, 200, JSON.stringify(json).slice(0, 500));
    assert.deepEqual(json.rejected, [], JSON.stringify(json.rejected).slice(0, 500));
    return json.stored;
  };
  let spendRows = 0;
  for (const file of spendCsvFiles()) spendRows += await csv('/api/spend/import?format=native', file);
  const rateRows = await csv('/api/rates/import', ratesCsv());
  console.log(`volume: imported ${spendRows.toLocaleString('en-US')} spend rows and ${rateRows.toLocaleString('en-US')} rates in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  browser = await launchBrowser();
  ({ page } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Milliseconds from navigation start to the frame after the screen's content has rendered. */
async function paintTime(hash, ready) {
  await goTo(page, server.base, hash, ADMIN);
  if (ready) await ready();
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(Math.round(performance.now())))));
}

test(`fast with volume: paint time of every screen with ${N.toLocaleString('en-US')} leads (printed, not asserted)`, { skip: !N }, async () => {
  await paintTime('#/'); // sign in once; the figures below are fresh loads of each screen
  const lead = (await server.api.page({ source: 'google', limit: 1 })).leads[0];
  assert.ok(lead, 'a google lead');
  const from = new Date(Date.now() - 30 * 86400_000).toISOString().slice(0, 10);
  const screens = [
    ['Overview', '#/'],
    ['Board', '#/board'],
    ['All Leads', '#/leads'],
    ['All Leads, source + stage (counted: 1,000+)', '#/leads?source=google&stage=New'],
    ['All Leads, campaign + 30 days (from counters)', `#/leads?campaign=ein-fast-track&from=${from}`],
    ['All Leads, searched (search=vol12)', '#/leads?search=vol12'],
    ['All Leads, searched, no match', '#/leads?search=no-such-lead'],
    ['Board, searched (search=vol12)', '#/board?search=vol12'],
    ['Lead drawer', `#/leads/${lead.id}`, () => waitDrawer(page, lead.id)],
    ['Overview, 90 days (money cards with spend)', '#/?range=90d', () => page.locator('[data-kpi="kpi-roas"]').waitFor()],
    ['Campaigns', '#/campaigns'],
    ['Campaigns, money figures', '#/campaigns?view=money', () => page.locator('table[data-view=money] tbody tr').first().waitFor()],
    ['Abandonment', '#/abandonment'],
  ];
  const rows = [];
  for (const [name, hash, ready] of screens) {
    const times = [];
    for (let i = 0; i < 3; i += 1) times.push(await paintTime(hash, ready));
    times.sort((a, b) => a - b);
    rows.push({ screen: name, 'median ms': times[1], 'min ms': times[0], 'max ms': times[2] });
  }
  console.log(`volume: paint times with ${N.toLocaleString('en-US')} leads (median of 3 fresh loads; from navigation start to the frame after the content rendered)`);
  console.table(rows);
  const total = await server.api.page({ limit: 1 });
  assert.equal(total.total, N, 'every lead is there');
  const money = (await server.api.analytics({ from: new Date(Date.now() - 364 * 86400_000).toISOString().slice(0, 10), to: new Date().toISOString().slice(0, 10) })).money;
  assert.ok(money.spend && money.spend.minor > 0, 'a year of spend is counted');
  assert.ok(money.revenue.minor > 0 && money.orders > 0, 'orders are counted');
});
