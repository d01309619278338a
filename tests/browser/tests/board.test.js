// Pipeline Board at scale: filters on every column, counts, card details, automatic paging of big columns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, screenshot, go as goTo, waitReady, today, addDays, PHONE,
} from '../lib/harness.js';
import { seedMany } from '../lib/seed.js';
import { layoutDefects } from '../lib/layout.js';

const ADMIN = 'board-admin-key';
const INGEST = 'board-ingest-key';
const BIG = 1050; // leads in the big column: a first page of 25, then 11 pages of 100
const FIRST = 25; // static-site/js/views/board.js FIRST_PAGE
const PAGE = 100; // and PAGE

let server; let browser; let page; let stages;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  stages = await server.api.stages();
  const sources = ['google', 'facebook', 'bing'];
  await seedMany(server.api, BIG, (i) => ({
    email: `big${i}@example.com`, first_name: `Big${i}`, stage: stages[1], source: sources[i % 3],
    campaign: i % 2 ? 'spring' : 'autumn', form_completion_percent: (i * 7) % 101,
  }));
  await seedMany(server.api, 12, (i) => ({
    email: `small${i}@example.com`, first_name: `Small${i}`, stage: stages[2], source: sources[i % 3],
    campaign: i % 2 ? 'spring' : 'autumn', form_completion_percent: 50,
  }));
  browser = await launchBrowser();
  ({ page } = await newPage(browser));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const go = (hash, p = page) => goTo(p, server.base, hash, ADMIN);
const col = (st, p = page) => p.locator(`.column[data-stage="${st}"]`);

test('board: a column of 1,050 leads paints 25 cards, then loads 100 at a time as its end scrolls into view (no clicks), with the exact count', async () => {
  await go('#/board');
  const big = col(stages[1]);
  assert.equal(await big.locator('.col-count').innerText(), '1,050');
  assert.equal(await big.locator('.lead-card').count(), FIRST, 'first page: 25 cards');
  const list = big.locator('.col-cards');
  for (let loaded = FIRST; loaded < BIG;) {
    const want = Math.min(BIG, loaded + PAGE);
    await list.evaluate((el) => { el.scrollTop = el.scrollHeight; }); // the user scrolls to the column's end
    await big.locator('.lead-card').nth(want - 1).waitFor();
    loaded = await big.locator('.lead-card').count();
    assert.equal(loaded, want, 'one page per scroll to the end');
  }
  await big.locator('.load-more').waitFor({ state: 'detached' });
  const shown = await big.locator('.lead-card').evaluateAll((els) => els.map((e) => e.dataset.leadId));
  assert.equal(new Set(shown).size, BIG, 'every lead once');
  const all = (await server.api.listAll({ stage: stages[1] })).map((l) => l.id);
  assert.deepEqual(shown, all, 'in the API\'s order');
  await screenshot(page, 'desktop-board-big', { fullPage: false });
});

test('board: without IntersectionObserver the keyboard-reachable "Load more" button pages the column, focus continues at the first new card', async () => {
  const { context, page: p } = await newPage(browser);
  try {
    await p.addInitScript(() => { delete window.IntersectionObserver; });
    await go('#/board', p);
    const big = col(stages[1], p);
    assert.equal(await big.locator('.lead-card').count(), FIRST);
    const more = big.locator('.load-more');
    assert.equal(await more.innerText(), 'Load more (1,025 left)');
    await more.focus();
    await p.keyboard.press('Enter');
    await big.locator('.lead-card').nth(FIRST + PAGE - 1).waitFor();
    assert.equal(await big.locator('.lead-card').count(), FIRST + PAGE);
    const focused = await p.evaluate(() => document.activeElement.closest('.lead-card')?.dataset.leadId);
    const ids = await big.locator('.lead-card').evaluateAll((els) => els.map((e) => e.dataset.leadId));
    assert.equal(focused, ids[FIRST], 'focus moves to the first card of the new page');
    // Tab order reaches the button again.
    await big.locator('.load-more').getByText('Load more (925 left)').waitFor();
  } finally {
    await context.close();
  }
});

test('board: search/source/campaign/date filters apply to every column; counts are the API\'s totals', async () => {
  await go('#/board');
  await page.locator('#b-source').fill('bing');
  await page.locator('#b-source').press('Enter');
  await waitReady(page, 'board');
  await page.waitForFunction(() => location.hash.includes('source=bing'));
  await waitReady(page, 'board');
  const big = col(stages[1]);
  const expectBig = await server.api.page({ stage: stages[1], source: 'bing', limit: 100 });
  assert.equal(expectBig.total_exact, true, 'stage and source: counted through the listing within its budget');
  assert.ok(expectBig.next_cursor, 'more than a page of bing leads');
  assert.equal(await big.locator('.col-count').innerText(), expectBig.total.toLocaleString('en-US'), 'the exact total, not "100+"');
  const small = col(stages[2]);
  const expectSmall = await server.api.listAll({ stage: stages[2], source: 'bing' });
  assert.equal(await small.locator('.col-count').innerText(), String(expectSmall.length), 'all loaded: no "+"');
  for (const src of await page.locator('.lead-card .tag').allInnerTexts()) assert.equal(src, 'bing');
  assert.equal(await col(stages[0]).locator('.col-empty').innerText(), 'No leads match the filters');

  // Search + campaign narrow every column further.
  await page.locator('#b-campaign').fill('spring');
  await page.locator('#b-search').fill('small');
  await page.locator('#b-search').press('Enter');
  await page.waitForFunction(() => location.hash.includes('search=small') && location.hash.includes('campaign=spring'));
  await waitReady(page, 'board');
  const want = await server.api.listAll({ stage: stages[2], source: 'bing', campaign: 'spring', search: 'small' });
  const got = await small.locator('.lead-card').evaluateAll((els) => els.map((e) => e.dataset.leadId));
  assert.deepEqual(got, want.map((l) => l.id));
  assert.equal(await big.locator('.lead-card').count(), 0);
  await screenshot(page, 'desktop-board-filtered', { fullPage: false });

  // Dates: a range in the past empties the board; a range around today brings the leads back.
  await page.locator('[data-action=clear-filters]').click();
  await waitReady(page, 'board');
  await page.locator('#b-to').fill(addDays(today(), -5));
  await page.locator('#b-to').dispatchEvent('change');
  await page.waitForFunction(() => location.hash.includes('to='));
  await waitReady(page, 'board');
  assert.equal(await page.locator('.lead-card').count(), 0);
  await page.locator('#b-from').fill(addDays(today(), -1));
  await page.locator('#b-from').dispatchEvent('change');
  await page.locator('#b-date-error').getByText('must be on or before').waitFor();
  await page.locator('#b-to').fill(addDays(today(), 1));
  await page.locator('#b-to').dispatchEvent('change');
  await page.waitForFunction(() => location.hash.includes('from='));
  await waitReady(page, 'board');
  assert.equal(await big.locator('.col-count').innerText(), BIG.toLocaleString('en-US'), 'stage and a whole-day range: exact from counters');
  // Reloading keeps the filters (they are in the URL).
  await go(`#/board?source=google&from=${addDays(today(), -1)}`);
  assert.equal(await page.locator('#b-source').inputValue(), 'google');
  for (const src of await page.locator('.lead-card .tag').allInnerTexts()) assert.equal(src, 'google');
});

test('board: cards show form completion and time in the current stage', async () => {
  await go('#/board');
  const lead = (await server.api.page({ stage: stages[2], limit: 1 })).leads[0];
  const card = page.locator(`.lead-card[data-lead-id="${lead.id}"]`);
  await card.locator('.card-form-pct').getByText(`Form ${Math.round(lead.form_completion_percent)}%`).waitFor();
  await card.locator('.card-in-stage').getByText(/^\S+ in stage$/).waitFor();
  assert.match(await card.locator('.card-in-stage').getAttribute('title'), new RegExp(`In ${stages[2]} since`));
  await screenshot(page, 'desktop-board-cards', { fullPage: false });
});

test('All Leads totals: exact from counters for a source ("of 354"), "1,000+" for a search past the read budget', async () => {
  await go('#/leads?source=google');
  await waitReady(page, 'leads');
  const google = await server.api.page({ source: 'google', limit: 1 });
  assert.deepEqual([google.total, google.total_exact], [354, true], '350 big + 4 small google leads');
  await page.locator('.summary', { hasText: '1–25 of 354 leads' }).waitFor();
  await go('#/leads?search=big');
  await waitReady(page, 'leads');
  const big = await server.api.page({ search: 'big', limit: 1 });
  assert.deepEqual([big.total, big.total_exact], [1000, false], 'counting stopped at its budget');
  await page.locator('.summary', { hasText: '1–25 of 1,000+ leads' }).waitFor();
  await screenshot(page, 'desktop-leads-lower-bound', { fullPage: false });
  // "Count all" asks GET /api/leads/count with the same filters and shows the exact total, without the button.
  const truth = (await server.api.listAll({ search: 'big' })).length;
  assert.ok(truth >= BIG, `precondition: every big lead matches (${truth})`);
  const counted = await server.api.call('GET', '/api/leads/count?search=big', { key: ADMIN });
  assert.deepEqual(counted.json, { total: truth, total_exact: true }, 'the count is the listing walked to its end');
  const [request] = await Promise.all([
    page.waitForRequest((r) => new URL(r.url()).pathname === '/api/leads/count'),
    page.locator('.summary [data-action=count-all]').click(),
  ]);
  assert.deepEqual(Object.fromEntries(new URL(request.url()).searchParams), { search: 'big' });
  await page.locator('.summary', { hasText: `1–25 of ${truth.toLocaleString('en-US')} leads` }).waitFor();
  await page.locator('.summary [data-action=count-all]').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('summary')), true,
    'focus moves to the summary, not to the page, when the button goes');
  await screenshot(page, 'desktop-leads-counted', { fullPage: false });
});

test('All Leads "Count all" (a search past the read budget) in the dark scheme and at 390 px: nothing overlaps or is cut', async () => {
  for (const [tag, opts] of [['desktop-dark', { colorScheme: 'dark' }], ['phone-light', { viewport: PHONE }]]) {
    const { context, page: p } = await newPage(browser, opts);
    try {
      await go('#/leads?search=big', p);
      await p.locator('.summary', { hasText: '1–25 of 1,000+ leads' }).locator('.btn-count-all').waitFor();
      const defects = await layoutDefects(p, '.table-toolbar .summary > *, .table-toolbar > *');
      await screenshot(p, `${tag}-leads-count-all`, { fullPage: false });
      assert.deepEqual(defects, [], tag);
    } finally {
      await context.close();
    }
  }
});
