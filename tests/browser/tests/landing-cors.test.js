// A landing page on another origin (a second local port) posts to `leadpipe serve` with fetch, as the API docs tell
// landing pages to: JSON body, x-api-key (the browser key), Idempotency-Key, keepalive; it reads the token and, on
// the repeat, Idempotent-Replayed. The admin routes stay closed to that origin. These are the CORS answers that
// infra/check_template.py requires the deployed functions to give (the template has no CorsConfiguration, so API
// Gateway passes the preflights to the functions' CORS layer, the one `leadpipe serve` runs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launchBrowser, newPage } from '../lib/harness.js';

const ADMIN = 'lc-admin-key-0001';
const INGEST = 'lc-server-key-0001';
const PUBLIC = 'lc-public-key-0001';
// A visitor's ordinary desktop Chrome (HeadlessChrome's own user agent is quarantined as a bot).
const VISITOR_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let server; let browser; let landing; let landingOrigin;

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST, publicKey: PUBLIC });
  browser = await launchBrowser();
  landing = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><head><title>Landing</title></head><body><h1>Spring sale</h1></body></html>');
  });
  await new Promise((resolve) => landing.listen(0, '127.0.0.1', resolve));
  landingOrigin = `http://127.0.0.1:${landing.address().port}`;
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => (landing ? landing.close(resolve) : resolve()));
});

/** Runs in the landing page: the documented fetch postback; returns what the page can read of the answer. */
async function postFromPage(page, { api, key, idem, email }) {
  return page.evaluate(async ({ api, key, idem, email }) => {
    try {
      const r = await fetch(`${api}/api/postback`, {
        method: 'POST',
        keepalive: true,
        headers: { 'content-type': 'application/json', 'x-api-key': key, 'Idempotency-Key': idem },
        body: JSON.stringify({ email, stage: 'Form Started', source: 'landing', form_completion_percent: 10 }),
      });
      return { status: r.status, replayed: r.headers.get('idempotent-replayed'), body: await r.json() };
    } catch (e) {
      return { error: String(e) };
    }
  }, { api, key, idem, email });
}

test('a landing page on another origin posts with fetch and reads the token and Idempotent-Replayed', async () => {
  const { context, page } = await newPage(browser, { userAgent: VISITOR_UA });
  try {
    await page.goto(`${landingOrigin}/landing.html`);
    assert.notEqual(new URL(page.url()).origin, new URL(server.base).origin, 'the page is on a second origin');
    const email = 'cors.visitor@example.com';
    const args = { api: server.base, key: PUBLIC, idem: 'lc-visit-0001', email };

    const first = await postFromPage(page, args);
    assert.equal(first.error, undefined, `fetch was refused: ${first.error}`);
    assert.equal(first.status, 202);
    assert.equal(typeof first.body.token, 'string');
    assert.ok(first.body.token.length > 0, 'the token is readable');
    assert.equal(first.replayed, null, 'a first postback is no replay');

    const again = await postFromPage(page, args);
    assert.equal(again.error, undefined, `fetch was refused: ${again.error}`);
    assert.equal(again.status, 202);
    assert.equal(again.replayed, 'true', 'Idempotent-Replayed is exposed to the page');
    assert.deepEqual(again.body, first.body, 'the replay answers the first response');

    // the lead exists, once
    const leads = await server.api.listAll({ search: email });
    assert.equal(leads.length, 1);
  } finally {
    await context.close();
  }
});

test('the admin routes refuse that origin (CORS), even with the admin key', async () => {
  const { context, page } = await newPage(browser, { userAgent: VISITOR_UA });
  try {
    await page.goto(`${landingOrigin}/landing.html`);
    const out = await page.evaluate(async ({ api, key }) => {
      try {
        const r = await fetch(`${api}/api/leads`, { headers: { 'x-api-key': key } });
        return { status: r.status };
      } catch (e) {
        return { error: String(e) };
      }
    }, { api: server.base, key: ADMIN });
    assert.match(out.error || '', /TypeError|Failed to fetch/, `the page read an admin route: ${JSON.stringify(out)}`);
  } finally {
    await context.close();
  }
});
