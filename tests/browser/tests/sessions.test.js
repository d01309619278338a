// Sign out everywhere (issue 23): a user signed in on two browsers ends every session from My Account; the
// browser that asked lands on the sign-in screen saying so, the other one is signed out at its next request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, screenshot, waitReady, LEADPIPE_BIN } from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';

const EMAIL = 'roaming@example.com';
const PASSWORD = 'roaming password 2026';

let server; let browser; let seedDir;

before(async () => {
  seedDir = mkdtempSync(path.join(tmpdir(), 'leadpipe-sessions-'));
  const db = path.join(seedDir, 'seed.db');
  const made = spawnSync(LEADPIPE_BIN, ['users', 'create-admin', '--email', EMAIL, '--db', db], {
    env: { ...process.env, LEADPIPE_ADMIN_PASSWORD: PASSWORD, RUST_LOG: 'warn' }, encoding: 'utf8',
  });
  assert.equal(made.status, 0, made.stderr);
  server = await startServer({ adminKey: 'sessions-admin-key', ingestKey: 'sessions-ingest-key', db });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (seedDir) rmSync(seedDir, { recursive: true, force: true });
});

async function signIn(page) {
  await page.goto(`${server.base}/#/overview`);
  await page.locator('#signin-email').fill(EMAIL);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('[data-action="sign-in"]').click();
  await waitReady(page, 'overview');
}

test('sign out everywhere ends the sessions of every browser', async () => {
  const { page: here } = await newPage(browser);
  const { page: there } = await newPage(browser);
  await signIn(here);
  await signIn(there);
  await here.locator('.nav-link', { hasText: 'My Account' }).click();
  await waitReady(here, 'account');
  const card = here.locator('[data-testid="sessions"]');
  await card.getByText('End every session of your account.').waitFor();
  assert.deepEqual(await layoutDefects(here, '[data-testid="sessions"]'), [], 'the card lays out cleanly');
  await screenshot(here, 'account-sessions');

  await card.locator('[data-action="sign-out-everywhere"]').click();
  const dialog = here.locator('.dialog');
  await dialog.getByText('Sign out everywhere?').waitFor();
  await dialog.locator('[data-action=cancel]').click();
  assert.equal(await here.locator('.sidebar').count(), 1, 'cancel keeps the session');

  await card.locator('[data-action="sign-out-everywhere"]').click();
  await dialog.locator('[data-action=confirm]').click();
  await here.getByText('You have signed out on every device.').waitFor();
  await here.locator('#signin-email').waitFor();
  await screenshot(here, 'account-signed-out-everywhere');

  // The other browser's cookie no longer works: its next screen asks to sign in again.
  await there.locator('.nav-link', { hasText: 'All Leads' }).click();
  await there.getByText('Your session has ended. Please sign in again.').waitFor();
  const cookies = await there.context().cookies();
  const session = cookies.find((c) => c.name === 'leadpipe_session');
  if (session) {
    const me = await fetch(`${server.base}/api/auth/me`, { headers: { cookie: `leadpipe_session=${session.value}` } });
    assert.equal(me.status, 401, 'the old cookie is refused by the API');
  }
  await here.close(); await there.close();
});
