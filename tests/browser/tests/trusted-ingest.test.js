// Trusted ingest in the browser: the documented sendBeacon snippet with PUBLIC_API_KEY creates a lead; the Postback
// Log shows a refused postback with its reason and its body as text; a quarantined lead is hidden by default, listed
// under the Quarantine filter, and Release brings it back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newPage, go, waitDrawer, expectTableIds, screenshot,
} from '../lib/harness.js';

const ADMIN = 'ti-admin-key';
const INGEST = 'ti-server-key';
const PUBLIC = 'ti-public-key';

let server; let browser;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST, publicKey: PUBLIC });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Poll the API until fn() returns a truthy value (state, not time); fail after `timeout` ms. */
async function until(fn, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function leadsBySearch(email, extra = {}) {
  return server.api.listAll({ search: email, ...extra });
}

// A visitor's ordinary desktop Chrome: HeadlessChrome's own user agent is (rightly) quarantined as a bot.
const VISITOR_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

test('the documented sendBeacon snippet with PUBLIC_API_KEY creates a lead', async () => {
  const { context, page, events } = await newPage(browser, { userAgent: VISITOR_UA });
  try {
    // 1. Read the snippet exactly as the API docs page shows it.
    await go(page, server.base, '#/docs', ADMIN);
    const snippet = await page.locator('[data-testid=beacon-snippet]').innerText();
    assert.match(snippet, /navigator\.sendBeacon\(/);
    assert.match(snippet, /\?key=PUBLIC_API_KEY/);
    assert.ok(snippet.includes(`'${server.base}/api/postback?key=PUBLIC_API_KEY'`), 'the snippet points at this API');
    assert.ok(!snippet.includes(ADMIN) && !snippet.includes(INGEST), 'no real key is printed in the docs');
    const email = 'beacon.visitor@example.com';
    const code = snippet.replace('?key=PUBLIC_API_KEY', `?key=${PUBLIC}`).replace('visitor@example.com', email);

    // 2. A tiny landing page on the API's origin that runs it, with the browser key and nothing else.
    await page.route(`${server.base}/landing.html`, (route) => route.fulfill({
      status: 200, contentType: 'text/html',
      body: '<!doctype html><html lang="en"><head><title>Landing</title></head><body><h1>Spring sale</h1></body></html>',
    }));
    await page.goto(`${server.base}/landing.html`);
    const queued = await page.evaluate((c) => {
      let ok;
      const real = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (...args) => { ok = real(...args); return ok; };
      // eslint-disable-next-line no-new-func
      new Function(c)();
      return ok;
    }, code);
    assert.equal(queued, true, 'the browser queued the beacon');

    // 3. The lead exists (poll the API for it).
    const [lead] = await until(async () => { const l = await leadsBySearch(email); return l.length ? l : null; }, 'the beacon lead');
    assert.equal(lead.email, email);
    assert.equal(lead.first_name, 'Ada');
    assert.equal(lead.source, 'google');
    assert.equal(lead.campaign, 'spring-sale');
    assert.ok(!lead.quarantine, 'a normal beacon is not quarantined');
    assert.deepEqual(events.pageErrors, []);
  } finally {
    await context.close();
  }
});

test('Postback Log lists a refused postback with its reason; its body renders as text', async () => {
  const payload = '{"email": "<img src=x onerror=\\"window.__xss=1\\">@evil.example", "first_name": "<script>window.__xss=1</script>"';
  const r = await fetch(`${server.base}/api/postback`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': INGEST }, body: payload,
  });
  assert.equal(r.status, 400, 'invalid JSON is refused');
  const { context, page, events } = await newPage(browser);
  try {
    // The log is admin-only: the browser key may not read it.
    const denied = await server.api.call('GET', '/api/postbacks?status=rejected', { key: PUBLIC });
    assert.ok(denied.status === 401 || denied.status === 403, `browser key refused (${denied.status})`);

    await go(page, server.base, '#/postbacks', ADMIN);
    assert.equal(await page.locator('a.nav-link[data-route=postbacks][aria-current=page]').count(), 1);
    const row = page.locator('table.postbacks-table tbody tr').filter({ hasText: 'window.__xss' }).first();
    await row.waitFor();
    assert.equal(await row.locator('[data-reason]').getAttribute('data-reason'), 'invalid_json');
    assert.equal(await row.locator('pre.body-excerpt').textContent(), payload, 'the body is shown verbatim, as text');
    assert.equal(await row.locator('pre.body-excerpt img, pre.body-excerpt script').count(), 0, 'no element was made from the body');
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload ran');
    await screenshot(page, 'postback-log-rejected');

    // The quarantined log is one select away and has its own empty state when empty.
    await page.locator('#pb-status').selectOption('quarantined');
    await page.locator('#content[data-screen="postbacks"][aria-busy="false"]').waitFor();
    await page.waitForFunction(() => !document.querySelector('.postbacks-table') || document.querySelector('#pb-status').value === 'quarantined');
    assert.equal(events.dialogs.length, 0);
    assert.deepEqual(events.pageErrors, []);
  } finally {
    await context.close();
  }
});

test('a quarantined lead is hidden by default, listed under Quarantine, and Release brings it back', async () => {
  // A honeypot hit from the browser key (README: HONEYPOT_FIELD, default _gotcha).
  const email = 'honeypot.bot@example.com';
  const r = await fetch(`${server.base}/api/postback?key=${PUBLIC}`, {
    method: 'POST', headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ email, first_name: 'Botty', _gotcha: 'i am a bot' }),
  });
  assert.equal(r.status, 202);
  const [q] = await until(async () => { const l = await leadsBySearch(email, { quarantine: 'only' }); return l.length ? l : null; }, 'the quarantined lead');
  assert.ok(q.quarantine, 'the lead is quarantined');
  assert.equal((await leadsBySearch(email)).length, 0, 'not in the default listing');
  // A normal lead for contrast.
  const normal = await server.api.postback({ email: 'real.person@example.com', first_name: 'Real' });

  const { context, page, events } = await newPage(browser);
  try {
    await go(page, server.base, '#/leads?search=example.com', ADMIN);
    const visible = await page.locator('table.leads-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.leadId));
    assert.ok(visible.includes(normal.lead_id));
    assert.ok(!visible.includes(q.id), 'hidden from the default list');

    // The Quarantine filter shows it, with a badge and a Release action.
    await page.locator('#f-quarantine').selectOption('only');
    await expectTableIds(page, [q.id], 'only the quarantined lead');
    assert.match(page.url(), /quarantine=only/);
    const row = page.locator(`tr[data-lead-id="${q.id}"]`);
    assert.equal(await row.locator('[data-quarantined]').count(), 1, 'badge on the row');

    // The drawer shows the badge and a Release button too.
    await row.locator('[data-action=open]').click();
    await waitDrawer(page, q.id);
    const drawer = page.locator(`.drawer[data-lead-id="${q.id}"]`);
    assert.equal(await drawer.locator('[data-quarantined]').count(), 1, 'badge in the drawer');
    assert.equal(await drawer.locator('[data-action=release]').count(), 1);
    await screenshot(page, 'lead-drawer-quarantined', { fullPage: false });
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });

    // Release from the row: confirmation, toast, list refresh.
    await row.locator('[data-action=release]').click();
    const dialog = page.locator('.dialog');
    await dialog.getByText('Release this lead from quarantine?').waitFor();
    await dialog.locator('[data-action=confirm]').click();
    await page.locator('.toast').filter({ hasText: 'released from quarantine' }).waitFor();
    await expectTableIds(page, [], 'the released lead left the Quarantine list');
    await until(async () => (await leadsBySearch(email)).length === 1, 'the lead back in the default listing');

    await page.locator('#f-quarantine').selectOption('');
    await page.waitForFunction((id) => {
      const c = document.querySelector('#content');
      return c.getAttribute('aria-busy') === 'false' && document.querySelector(`tr[data-lead-id="${id}"]`);
    }, q.id);
    assert.equal(await page.locator(`tr[data-lead-id="${q.id}"] [data-quarantined]`).count(), 0, 'no badge once released');
    assert.equal(events.dialogs.length, 0, 'no native dialogs');
    assert.deepEqual(events.pageErrors, []);
  } finally {
    await context.close();
  }
});

