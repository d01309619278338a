// Test harness: starts the real `leadpipe serve`, drives Debian Chromium through playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, rmSync, openSync, readFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../..');
export const LEADPIPE_BIN = process.env.LEADPIPE_BIN
  ? path.resolve(process.env.LEADPIPE_BIN)
  : path.join(REPO_ROOT, 'target/debug/leadpipe');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'artifacts/screenshots');

export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start `leadpipe serve` on a free port with a fresh database.
 * adminKey → ADMIN_API_KEY, ingestKey → API_KEY, publicKey → PUBLIC_API_KEY (omit a key to leave it unset);
 * timeZone sets REPORTING_TIMEZONE; db: an SQLite database file to start from (copied, never changed).
 */
export async function startServer({ adminKey, ingestKey, publicKey, timeZone, db } = {}) {
  if (!existsSync(LEADPIPE_BIN)) {
    throw new Error(`leadpipe binary not found at ${LEADPIPE_BIN}. Build it first (cargo build) or set LEADPIPE_BIN.`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'leadpipe-browser-'));
  const port = await freePort();
  if (db) for (const ext of ['', '-wal']) if (existsSync(db + ext)) copyFileSync(db + ext, path.join(dir, `t.db${ext}`));
  const logPath = path.join(dir, 'server.log');
  const log = openSync(logPath, 'a');
  const env = { ...process.env };
  delete env.ADMIN_API_KEY;
  delete env.API_KEY;
  delete env.PUBLIC_API_KEY;
  if (publicKey) env.PUBLIC_API_KEY = publicKey;
  if (adminKey) env.ADMIN_API_KEY = adminKey;
  if (ingestKey) env.API_KEY = ingestKey;
  delete env.REPORTING_TIMEZONE;
  if (timeZone) env.REPORTING_TIMEZONE = timeZone;
  env.RUST_LOG = env.RUST_LOG || 'warn';
  const child = spawn(LEADPIPE_BIN, ['serve', '--port', String(port), '--db', path.join(dir, 't.db')], {
    cwd: REPO_ROOT, env, stdio: ['ignore', log, log],
  });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`leadpipe serve exited early (${JSON.stringify(exited)}):\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`leadpipe serve did not answer /api/health within 30s:\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([
        new Promise((r) => child.once('exit', r)),
        new Promise((r) => setTimeout(r, 3000)),
      ]);
      if (!exited) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, port, dir, logPath, stop, api: apiClient(base, { adminKey, ingestKey }) };
}

function apiClient(base, { adminKey, ingestKey }) {
  async function call(method, p, { body, key } = {}) {
    const headers = {};
    if (key) headers['x-api-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: r.status, json };
  }
  const api = {
    call,
    async postback(body) {
      const r = await call('POST', '/api/postback', { body, key: ingestKey });
      if (r.status !== 200 && r.status !== 201) throw new Error(`postback failed ${r.status}: ${JSON.stringify(r.json)}`);
      return r.json;
    },
    async setStage(id, stage) {
      const r = await call('PUT', `/api/leads/${id}/stage`, { body: { stage }, key: adminKey });
      if (r.status !== 200) throw new Error(`set stage failed ${r.status}: ${JSON.stringify(r.json)}`);
      return r.json;
    },
    async lead(id) { return call('GET', `/api/leads/${id}`, { key: adminKey }); },
    async stages() { return (await call('GET', '/api/stages')).json.stages; },
    async analytics(query = {}) { return (await call('GET', `/api/analytics?${new URLSearchParams(query)}`, { key: adminKey })).json; },
    async breakdown(query = {}) { return (await call('GET', `/api/analytics/breakdown?${new URLSearchParams(query)}`, { key: adminKey })).json; },
    async abandonment(query = {}) { return (await call('GET', `/api/analytics/abandonment?${new URLSearchParams(query)}`, { key: adminKey })).json; },
    /** All leads of a filter, following cursors (test-side truth); `from` '/api/leads/export' pages the export. */
    async listAll(query = {}, limit = 200, from = '/api/leads') {
      const out = [];
      let cursor;
      do {
        const qs = new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) });
        const r = await call('GET', `${from}?${qs}`, { key: adminKey });
        if (r.status !== 200) throw new Error(`list failed ${r.status}: ${JSON.stringify(r.json)}`);
        out.push(...r.json.leads);
        cursor = r.json.next_cursor;
      } while (cursor);
      return out;
    },
    async page(query = {}) {
      const qs = new URLSearchParams(query);
      const r = await call('GET', `/api/leads?${qs}`, { key: adminKey });
      if (r.status !== 200) throw new Error(`list failed ${r.status}: ${JSON.stringify(r.json)}`);
      return r.json;
    },
  };
  return api;
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/**
 * A page that records console errors, page errors and dialogs, so tests can assert none happened.
 */
export async function newPage(browser, { viewport = DESKTOP, colorScheme = 'light', bypassCSP = false, timezoneId, userAgent } = {}) {
  // Reduced motion: the app then runs no entrance animations, so nothing needs time to "settle".
  const context = await browser.newContext({
    viewport, acceptDownloads: true, deviceScaleFactor: 1, colorScheme, reducedMotion: 'reduce', bypassCSP,
    ...(timezoneId ? { timezoneId } : {}),
    ...(userAgent ? { userAgent } : {}),
  });
  const page = await context.newPage();
  const events = { dialogs: [], pageErrors: [], consoleErrors: [] };
  page.on('dialog', (d) => { events.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => events.pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') events.consoleErrors.push(m.text()); });
  page.setDefaultTimeout(10_000);
  return { context, page, events };
}

export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // No waiting for time: the context prefers reduced motion and Playwright finishes any animation.
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage, animations: 'disabled', caret: 'hide' });
}

/** The screen name of a dashboard hash: '#/leads/abc?x=1' -> 'leads'. */
export function screenOf(hash) {
  return hash.replace(/^#\/?/, '').split(/[/?]/)[0] || 'overview';
}

/** Wait until the screen's data has rendered (the views set aria-busy="false" on #content when done). */
export async function waitReady(p, screen, { timeout } = {}) {
  await p.locator(`#content[data-screen="${screen}"][aria-busy="false"]`).waitFor({ timeout });
}

/**
 * go(page, base, hash, adminKey): open the dashboard at `hash` in a fresh document, signing in when asked,
 * and return once the screen's content (not just the shell) has rendered.
 */
export async function go(p, base, hash, adminKey) {
  await p.goto('about:blank'); // a fresh document: no earlier screen's state can satisfy the waits below
  await p.goto(`${base}/${hash}`);
  await p.locator('#content, #admin-key').first().waitFor();
  if (await p.locator('#admin-key').count()) {
    await p.locator('#admin-key').fill(adminKey);
    await p.locator('form.signin-form button[type=submit]').click();
  }
  await waitReady(p, screenOf(hash));
}

/** Ids of the rows of the leads table once it is not loading. */
export async function tableIds(p) {
  await p.locator('#content[data-screen="leads"][aria-busy="false"]').waitFor();
  return p.locator('table.leads-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.leadId));
}

/** Wait until the (settled) leads table shows exactly these ids in this order, then assert it. */
export async function expectTableIds(p, expected, msg, { timeout = 8000 } = {}) {
  await p.waitForFunction((exp) => {
    const c = document.querySelector('#content');
    if (!c || c.getAttribute('aria-busy') !== 'false') return false;
    const got = [...document.querySelectorAll('table.leads-table tbody tr')].map((tr) => tr.dataset.leadId);
    return JSON.stringify(got) === JSON.stringify(exp);
  }, expected, { timeout }).catch(() => { /* the assertion below shows the difference */ });
  const got = await p.locator('table.leads-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.leadId));
  if (JSON.stringify(got) !== JSON.stringify(expected)) {
    const { deepStrictEqual } = await import('node:assert');
    deepStrictEqual(got, expected, msg);
  }
}

/** Wait until the lead drawer for `id` has loaded. */
export async function waitDrawer(p, id) {
  await p.locator(`.drawer${id ? `[data-lead-id="${id}"]` : ''}[aria-busy="false"]`).waitFor();
}

/** Minimal RFC 4180 parser for checking downloads. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

export function today() {
  return new Date().toISOString().slice(0, 10);
}
export function addDays(ymd, n) {
  const d = new Date(`${ymd}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
