// Issue 21's screen items, checked from element boxes at 1440×900 and 390×844, light and dark: the webhook form's
// checkboxes (item 10), the Overview's "no change" mark (11), All Leads' filters and columns and the Campaigns table
// (8). Screenshots of each state land in artifacts/screenshots/layout-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, screenshot, go, DESKTOP, PHONE } from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';
import { seed } from '../lib/seed.js';

const ADMIN = 'layout-admin-key';
const INGEST = 'layout-ingest-key';
const SIZES = [['desktop', DESKTOP], ['phone', PHONE]];
const SCHEMES = ['light', 'dark'];

let server; let browser;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  browser = await launchBrowser();
  const stages = await server.api.stages();
  await seed(server.api, stages, 12);
  // The longest stage name, newest, so it is on the first page: its chip must show whole.
  const longest = [...stages].sort((a, b) => b.length - a.length)[0];
  await server.api.postback({ email: 'longest-stage@example.com', first_name: 'Long', stage: longest });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function eachView(fn) {
  for (const [size, viewport] of SIZES) {
    for (const colorScheme of SCHEMES) {
      const { context, page } = await newPage(browser, { viewport, colorScheme });
      try {
        await fn(page, `${size}-${colorScheme}`, size);
      } finally {
        await context.close();
      }
    }
  }
}

test('webhook form: Events and Stages labels do not overlap, no empty error box, defaults come back after adding', async () => {
  const stages = await server.api.stages();
  await eachView(async (page, tag) => {
    await go(page, server.base, '#/settings', ADMIN);
    await page.locator('[data-testid="wh-stages"] input[type=checkbox]').first().waitFor();
    const defects = await layoutDefects(page, '.webhook-form .check', { offscreen: true });
    assert.deepEqual(defects, [], `${tag}: checkbox rows`);
    const labelDefects = await layoutDefects(page, '.webhook-form .check label, .webhook-form .check input');
    assert.deepEqual(labelDefects, [], `${tag}: checkbox labels and boxes`);
    // Each label stands to the right of its own box, on the same line.
    // (The consent row shows only for ad-platform formats: the default, standard, hides it.)
    const rows = await page.locator('.webhook-form .check').evaluateAll((els) => els.filter((e) => e.offsetParent !== null).map((e) => {
      const box = e.querySelector('input').getBoundingClientRect();
      const label = e.querySelector('label').getBoundingClientRect();
      return { text: e.innerText, boxRight: box.right, labelLeft: label.left, boxTop: box.top, labelBottom: label.bottom };
    }));
    assert.equal(rows.length, 3 + stages.length);
    for (const r of rows) assert.ok(r.labelLeft >= r.boxRight, `${tag}: "${r.text}" starts after its box`);
    // No error box until there is an error.
    const errorBox = await page.locator('[data-testid="webhook-form-error"]').boundingBox();
    assert.ok(!errorBox || errorBox.height === 0, `${tag}: empty error box is not shown (${JSON.stringify(errorBox)})`);
    await screenshot(page, `layout-settings-${tag}`);
  });

  // After adding one webhook the form comes back with its default events ticked, so a second one can be added.
  const { context, page } = await newPage(browser);
  try {
    await go(page, server.base, '#/settings', ADMIN);
    const ticked = () => page.locator('.webhook-form input[name=events]').evaluateAll((els) => els.map((e) => `${e.value}=${e.checked}`));
    const defaults = await ticked();
    assert.deepEqual(defaults, ['lead.created=true', 'lead.stage_changed=true', 'lead.deleted=false']);
    await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/first');
    await page.locator('[data-action="add-webhook"]').click();
    await page.locator('[data-testid="webhook-secret-card"]').waitFor();
    await page.locator('.webhook-item').first().waitFor();
    assert.deepEqual(await ticked(), defaults, 'the default events are ticked again');
    assert.equal(await page.getByLabel('Endpoint URL').inputValue(), '');
    await page.locator('[data-action="dismiss-secret"]').click();
    await page.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/second');
    await page.locator('[data-action="add-webhook"]').click();
    await page.locator('[data-testid="webhook-secret-card"]').waitFor();
    await page.locator('.webhook-item').nth(1).waitFor();
    assert.equal(await page.locator('[data-testid="webhook-form-error"]').innerText(), '', 'no "Tick at least one event."');
  } finally {
    await context.close();
  }
});

test('Overview: "no change" is an inline SVG, and every change mark is a glyph of the common system fonts', async () => {
  await eachView(async (page, tag) => {
    // A past week with no leads: every figure is 0 against 0, "no change".
    await go(page, server.base, '#/overview?from=2020-01-06&to=2020-01-12', ADMIN);
    const flat = page.locator('.delta-flat');
    await flat.first().waitFor();
    const marks = await page.locator('.delta-arrow').evaluateAll((els) => els.map((e) => ({
      svg: Boolean(e.querySelector('svg')), text: e.textContent, w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height,
      kind: e.closest('.cmp')?.dataset.kind,
    })));
    assert.ok(marks.length > 0);
    for (const m of marks) {
      if (m.kind === 'flat') assert.ok(m.svg && m.text === '' && m.w > 0 && m.h > 0, `${tag}: flat mark is a drawn SVG ${JSON.stringify(m)}`);
      else assert.match(m.text, /^[▲▼★]$/u, `${tag}: ${m.kind} mark`);
    }
    await screenshot(page, `layout-overview-flat-${tag}`, { fullPage: false });
  });
});

test('All Leads: no filter control cuts its text, and no column sits under the sticky Actions column', async () => {
  await eachView(async (page, tag, size) => {
    await go(page, server.base, '#/leads', ADMIN);
    await page.locator('tbody tr[data-lead-id]').first().waitFor();
    const filterDefects = await layoutDefects(page, '.filters-leads .filter', { offscreen: true });
    assert.deepEqual(filterDefects, [], `${tag}: filter fields`);
    const controlDefects = await layoutDefects(page, '.filters-leads select, .filters-leads input:not([type=date]), .filters-leads .btn');
    assert.deepEqual(controlDefects, [], `${tag}: filter controls`);
    // Placeholders and selected options are text a box can cut without scrollWidth showing it: measure them.
    const cut = await page.evaluate(() => {
      const c = document.createElement('canvas').getContext('2d');
      const out = [];
      for (const el of document.querySelectorAll('.filters-leads select, .filters-leads input[placeholder]')) {
        const cs = getComputedStyle(el);
        c.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        const text = el.tagName === 'SELECT' ? el.options[el.selectedIndex]?.text || '' : el.placeholder;
        const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        if (c.measureText(text).width > room + 0.5) out.push(`${el.id || el.name}: "${text}" ${Math.round(c.measureText(text).width)} px in ${Math.round(room)} px`);
      }
      return out;
    });
    assert.deepEqual(cut, [], `${tag}: filter text cut`);
    // Table: no cell under the sticky Actions column (at rest), and on a phone more than date and name show.
    const table = await page.evaluate(() => {
      const act = document.querySelector('thead th.col-actions');
      const actLeft = act ? act.getBoundingClientRect().left : Infinity;
      const heads = [...document.querySelectorAll('thead th')].filter((th) => th !== act && th.getBoundingClientRect().width > 0);
      const under = heads.filter((th) => th.getBoundingClientRect().right > actLeft + 0.5 && th.getBoundingClientRect().left < actLeft + act.getBoundingClientRect().width)
        .map((th) => th.innerText.trim());
      const visible = heads.filter((th) => th.getBoundingClientRect().right <= Math.min(actLeft, window.innerWidth) + 0.5).map((th) => th.innerText.trim());
      return { under, visible, stackedRows: getComputedStyle(document.querySelector('tbody tr')).display === 'block' };
    });
    if (!table.stackedRows) {
      const sc = page.locator('.table-scroll');
      for (const x of [0, 10_000]) {
        await sc.evaluate((e, left) => { e.scrollLeft = left; }, x);
        const hidden = await page.evaluate(() => {
          const act = document.querySelector('thead th.col-actions').getBoundingClientRect();
          // A cell whose text is under Actions (it may scroll past it, but never rest there at either end).
          return [...document.querySelectorAll('thead th:not(.col-actions)')].filter((th) => {
            const r = th.getBoundingClientRect();
            return r.width > 0 && r.left < act.left - 0.5 && r.right > act.left + 0.5 && r.right - act.left > 8;
          }).map((th) => th.innerText.trim());
        });
        assert.deepEqual(hidden, [], `${tag}: a column rests under Actions at scrollLeft=${x}`);
      }
      await sc.evaluate((e) => { e.scrollLeft = 0; });
    }
    if (size === 'phone') {
      const cells = await page.locator('tbody tr[data-lead-id]').first().evaluate((tr) => [...tr.querySelectorAll('td')]
        .filter((td) => { const r = td.getBoundingClientRect(); return r.width > 0 && r.right <= window.innerWidth + 0.5 && r.left >= -0.5; })
        .map((td) => td.dataset.col || td.className));
      assert.ok(cells.length >= 4, `${tag}: a phone shows more than date and name (${JSON.stringify(cells)})`);
    }
    const cutChips = await page.evaluate(() => [...document.querySelectorAll('#content tbody td.cell-stage .chip')]
      .filter((c) => {
        const cell = c.closest('td').getBoundingClientRect(); const r = c.getBoundingClientRect();
        return c.scrollWidth > c.clientWidth + 1 || r.right > cell.right + 0.5;
      }).map((c) => c.innerText.trim()));
    assert.deepEqual(cutChips, [], `${tag}: stage chips cut`);
    void table;
    await screenshot(page, `layout-leads-${tag}`, { fullPage: false });
  });
});

test('Campaigns: every column on screen at 1440 px, names not cut at 390 px', async () => {
  await eachView(async (page, tag, size) => {
    await go(page, server.base, '#/campaigns', ADMIN);
    await page.locator('.breakdown-table tbody tr, table tbody tr').first().waitFor();
    const res = await page.evaluate(() => {
      const table = document.querySelector('#content table');
      const scroll = table.closest('.table-scroll') || table.parentElement;
      const heads = [...table.querySelectorAll('thead th')];
      const view = Math.min(window.innerWidth, scroll.getBoundingClientRect().right);
      const off = heads.filter((th) => th.getBoundingClientRect().right > view + 0.5).map((th) => th.innerText.trim());
      const names = [...table.querySelectorAll('tbody tr > :first-child')];
      const cutNames = names.filter((c) => {
        const inner = c.querySelector('a, button, span') || c;
        return inner.scrollWidth > inner.clientWidth + 1 || c.scrollWidth > c.clientWidth + 1;
      }).map((c) => c.innerText.trim());
      return { off, cutNames, overflow: scroll.scrollWidth - scroll.clientWidth, stacked: getComputedStyle(table.querySelector('tbody tr')).display === 'block' };
    });
    await screenshot(page, `layout-campaigns-${tag}`, { fullPage: false });
    if (size === 'desktop') assert.deepEqual(res.off, [], `${tag}: columns off-screen (overflow ${res.overflow} px)`);
    assert.deepEqual(res.cutNames, [], `${tag}: campaign names cut`);
  });
});

test('Form Abandonment: never-started leads are shown apart and left out unless included, at both sizes', async () => {
  const FAKE = (by) => ({
    by, from: '2026-11-01', to: '2026-11-30',
    rows: [{ value: by === 'campaign' ? 'spring-launch' : 'mobile', leads: 10, stopped: 8, deciles: [6, 0, 0, 0, 2, 0, 0, 0, 0, 0], never_started: 5 }],
  });
  await eachView(async (page, tag) => {
    // The figures are the API's; the route answers a known row so the arithmetic is checked exactly.
    await page.route('**/api/analytics/abandonment?*', (route) => {
      const by = new URL(route.request().url()).searchParams.get('by');
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(FAKE(by)) });
    });
    await go(page, server.base, '#/abandonment', ADMIN);
    const tr = page.locator('.table-host[data-by="campaign"] tr[data-value="spring-launch"]');
    await tr.waitFor();
    const read = async () => ({
      stopped: (await tr.locator('td[data-col=stopped]').innerText()).split(/\s/)[0],
      never: await tr.locator('td[data-col=never]').innerText(),
      d0: await tr.locator('td[data-decile="0"] .dec-n').innerText(),
      peak: (await tr.locator('td[data-col=peak]').innerText()).trim(),
    });
    assert.deepEqual(await read(), { stopped: '3', never: '5', d0: '1', peak: '40–49%' }, `${tag}: never-started left out`);
    assert.deepEqual(await layoutDefects(page, '.never-toggle .check-row > *, .never-toggle'), [], `${tag}: the toggle`);
    await screenshot(page, `layout-abandonment-${tag}`, { fullPage: false });
    await page.locator('[data-action=include-never]').check();
    await page.locator('.table-host[data-by="campaign"] tr[data-value="spring-launch"] td[data-col=peak]', { hasText: '0–9%' }).waitFor();
    assert.deepEqual(await read(), { stopped: '8', never: '5', d0: '6', peak: '0–9%' }, `${tag}: included`);
    assert.match(await page.evaluate(() => location.hash), /never=include/);
  });
});
