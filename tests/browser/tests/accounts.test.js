// Personal sign-in (issue 23): the first admin comes from `leadpipe users create-admin`, signs in with email and
// password (an HttpOnly, Secure, SameSite=Strict cookie that Chromium keeps on http://127.0.0.1), invites a viewer
// from the Users screen; the viewer accepts the one-time link, signs in, sees no controls a viewer may not use,
// and a scripted write with the viewer's cookie is refused with 403 by the API itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, screenshot, waitReady, LEADPIPE_BIN } from '../lib/harness.js';

const ADMIN_KEY = 'accounts-admin-key';
const INGEST = 'accounts-ingest-key';
const ADMIN_EMAIL = 'owner@example.com';
const ADMIN_PASSWORD = 'owner password 2026';
const VIEWER_EMAIL = 'viewer@example.com';
const VIEWER_PASSWORD = 'viewer password 2026';

let server; let browser; let seedDir; let leadId;

before(async () => {
  seedDir = mkdtempSync(path.join(tmpdir(), 'leadpipe-accounts-'));
  const db = path.join(seedDir, 'seed.db');
  const made = spawnSync(LEADPIPE_BIN, ['users', 'create-admin', '--email', ADMIN_EMAIL, '--db', db], {
    env: { ...process.env, LEADPIPE_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: 'warn' }, encoding: 'utf8',
  });
  assert.equal(made.status, 0, made.stderr);
  const again = spawnSync(LEADPIPE_BIN, ['users', 'create-admin', '--email', ADMIN_EMAIL, '--db', db], {
    env: { ...process.env, LEADPIPE_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: 'warn' }, encoding: 'utf8',
  });
  assert.notEqual(again.status, 0, 'a taken email is an error');
  assert.match(again.stderr, /exists already/);
  server = await startServer({ adminKey: ADMIN_KEY, ingestKey: INGEST, db });
  const r = await server.api.postback({ email: 'lead@example.com', first_name: 'Lena', source: 'google' });
  leadId = r.lead_id;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (seedDir) rmSync(seedDir, { recursive: true, force: true });
});

async function signIn(page, email, password) {
  await page.goto(`${server.base}/#/overview`);
  await page.locator('#signin-email').fill(email);
  await page.locator('#signin-password').fill(password);
  await page.locator('[data-action="sign-in"]').click();
  await waitReady(page, 'overview');
}

test('admin signs in, invites a viewer; the viewer accepts, signs in and sees only what a viewer may do', async () => {
  const admin = await newPage(browser);
  let viewer;
  try {
    const { page } = admin;
    await page.goto(`${server.base}/#/overview`);
    await page.locator('#signin-email').waitFor();
    await screenshot(page, 'accounts-signin');
    // A wrong password: one clear message, no session.
    await page.locator('#signin-email').fill(ADMIN_EMAIL);
    await page.locator('#signin-password').fill('not the password');
    await page.locator('[data-action="sign-in"]').click();
    await page.locator('.form-error').getByText('do not match').waitFor();
    assert.equal(await page.locator('.sidebar').count(), 0);

    await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    const cookie = (await admin.context.cookies()).find((c) => c.name === 'leadpipe_session');
    assert.ok(cookie, 'Chromium keeps the Secure cookie on http://127.0.0.1');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.ok(!(await page.evaluate(() => document.cookie)).includes('leadpipe_session'), 'scripts cannot read it');
    await page.locator('[data-testid="who"]').getByText(ADMIN_EMAIL).waitFor();
    assert.equal((await page.locator('[data-testid="role"]').textContent()).trim(), 'admin');
    await screenshot(page, 'accounts-admin-overview');

    await page.locator('.nav-link', { hasText: 'Users' }).click();
    await waitReady(page, 'users');
    await page.locator('#invite-email').fill(VIEWER_EMAIL);
    await page.locator('#invite-role').selectOption('viewer');
    await page.locator('[data-action="invite"]').click();
    const link = await page.locator('[data-testid="invite-url"]').inputValue();
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#\/accept-invite\?token=[A-Za-z0-9_-]{43}$/);
    await waitReady(page, 'users');
    await screenshot(page, 'accounts-users-invite');

    viewer = await newPage(browser);
    const v = viewer.page;
    await v.goto(link);
    await v.locator('#invite-password').fill(VIEWER_PASSWORD);
    await v.locator('#invite-password-again').fill(VIEWER_PASSWORD);
    await screenshot(v, 'accounts-accept-invite');
    await v.locator('[data-action="accept-invite"]').click();
    await v.locator('.notice').getByText('is ready').waitFor();
    // The link works once.
    const reuse = await v.evaluate(async (token) => {
      const r = await fetch('/api/auth/accept-invite', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token, password: 'another long password' }) });
      return { status: r.status, body: await r.json() };
    }, new URL(link).hash.split('token=')[1]);
    assert.equal(reuse.status, 410);
    assert.equal(reuse.body.error.code, 'invite_used');

    await v.locator('#signin-email').fill(VIEWER_EMAIL);
    await v.locator('#signin-password').fill(VIEWER_PASSWORD);
    await v.locator('[data-action="sign-in"]').click();
    await waitReady(v, 'overview');
    assert.equal((await v.locator('[data-testid="role"]').textContent()).trim(), 'viewer');
    for (const hidden of ['Users', 'Settings', 'Import', 'Postback Log']) {
      assert.equal(await v.locator('.nav-link', { hasText: hidden }).isVisible(), false, `${hidden} is hidden from a viewer`);
    }
    assert.equal(await v.locator('.nav-link', { hasText: 'All Leads' }).isVisible(), true);
    await screenshot(v, 'accounts-viewer-overview');
    await v.locator('.nav-link', { hasText: 'All Leads' }).click();
    await waitReady(v, 'leads');
    await v.locator('table.leads-table tbody tr').first().waitFor();
    assert.equal(await v.locator('[data-action="export-csv"]').isVisible(), false, 'no export');
    assert.equal(await v.locator('.move-select:visible').count(), 0, 'no moves');
    assert.equal(await v.locator('[data-action="delete"]:visible').count(), 0, 'no deletes');
    await screenshot(v, 'accounts-viewer-leads');

    // The API refuses a viewer's scripted writes and export, whatever the page shows.
    const refused = await v.evaluate(async (id) => {
      const move = await fetch(`/api/leads/${id}/stage`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ stage: 'Contacted' }) });
      const exp = await fetch('/api/leads/export');
      const read = await fetch('/api/leads');
      return [move.status, exp.status, read.status];
    }, leadId);
    assert.deepEqual(refused, [403, 403, 200]);

    // Signing out ends the session on the server.
    await v.locator('[data-action="sign-out"]').click();
    await v.locator('#signin-email').waitFor();
    const after = await v.evaluate(async () => (await fetch('/api/auth/me')).status);
    assert.equal(after, 401);
    assert.deepEqual(viewer.events.pageErrors, []);
    assert.deepEqual(admin.events.pageErrors, []);
  } finally {
    await admin.context.close();
    await viewer?.context.close();
  }
});
