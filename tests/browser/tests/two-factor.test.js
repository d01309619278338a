// Two-factor sign-in (issue 23): a user sets it up in My Account (the secret shown as text; the code computed here
// with RFC 6238 from that secret), sees the recovery codes once, signs out, signs in again with a code (a wrong
// code and a replayed one are refused), and turns it off; an admin resets a member's two-factor from Users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, screenshot, waitReady, LEADPIPE_BIN, PHONE } from '../lib/harness.js';
import { axe, describe } from '../lib/axe.js';
import { layoutDefects } from '../lib/layout.js';

const ADMIN_KEY = 'two-factor-admin-key';
const INGEST = 'two-factor-ingest-key';
const ADMIN_EMAIL = 'owner@example.com';
const ADMIN_PASSWORD = 'owner password 2026';
const MEMBER_EMAIL = 'member@example.com';
const MEMBER_PASSWORD = 'member password 2026';

let server; let browser; let seedDir;

/** RFC 4648 base32 (no padding) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let value = 0; let bits = 0; const out = [];
  for (const c of text.toUpperCase()) {
    const i = alphabet.indexOf(c);
    assert.ok(i >= 0, `base32 character ${c}`);
    value = ((value << 5) | i) & 0xffff; bits += 5;
    if (bits >= 8) { bits -= 8; out.push((value >> bits) & 0xff); }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (HMAC-SHA-1, 6 digits, 30 s steps) of `secret` at time step `step`. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const d = createHmac('sha1', base32(secret)).update(counter).digest();
  const o = d[19] & 0x0f;
  const n = (((d[o] & 0x7f) << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) % 1_000_000;
  return String(n).padStart(6, '0');
}

const stepNow = () => Math.floor(Date.now() / 1000 / 30);

/** A six-digit code the server accepts at no step near now. */
function wrongCode(secret) {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totp(secret, stepNow() + d)));
  return ['000000', '111111', '222222', '333333'].find((c) => !near.has(c));
}

before(async () => {
  seedDir = mkdtempSync(path.join(tmpdir(), 'leadpipe-two-factor-'));
  const db = path.join(seedDir, 'seed.db');
  const made = spawnSync(LEADPIPE_BIN, ['users', 'create-admin', '--email', ADMIN_EMAIL, '--db', db], {
    env: { ...process.env, LEADPIPE_ADMIN_PASSWORD: ADMIN_PASSWORD, RUST_LOG: 'warn' }, encoding: 'utf8',
  });
  assert.equal(made.status, 0, made.stderr);
  server = await startServer({ adminKey: ADMIN_KEY, ingestKey: INGEST, db });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (seedDir) rmSync(seedDir, { recursive: true, force: true });
});

/** No critical or serious axe-core violation on the page as it is. */
async function expectAccessible(page, what) {
  const bad = (await axe(page)).filter((v) => v.impact === 'critical' || v.impact === 'serious');
  assert.deepEqual(bad.map((v) => v.id), [], `${what}:\n${describe(bad)}`);
}

async function fillSignIn(page, email, password) {
  await page.goto(`${server.base}/#/overview`);
  await page.locator('#signin-email').fill(email);
  await page.locator('#signin-password').fill(password);
  await page.locator('[data-action="sign-in"]').click();
}

test('a user sets up two-factor, signs in with a code (wrong and replayed codes refused) and turns it off', async () => {
  const { page, context, events } = await newPage(browser, { bypassCSP: true }); // axe-core is injected
  try {
    await fillSignIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await waitReady(page, 'overview');
    await page.locator('.nav-link', { hasText: 'My Account' }).click();
    await waitReady(page, 'account');
    await page.locator('[data-testid="two-factor-state"]').getByText('Off').waitFor();
    await screenshot(page, 'two-factor-off');

    await page.locator('[data-action="start-two-factor"]').click();
    const secret = await page.locator('#two-factor-secret').inputValue();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const uri = await page.locator('#two-factor-uri').inputValue();
    assert.equal(uri, `otpauth://totp/Leadpipe:owner%40example.com?secret=${secret}&issuer=Leadpipe`);
    await screenshot(page, 'two-factor-setup');
    await expectAccessible(page, 'set-up');

    await page.locator('#two-factor-code').fill(wrongCode(secret));
    await page.locator('[data-action="confirm-two-factor"]').click();
    await page.locator('.two-factor-form .form-error').getByText('the code is wrong').waitFor();
    assert.equal(await page.locator('#two-factor-code').getAttribute('aria-invalid'), 'true');
    const confirmStep = stepNow();
    await page.locator('#two-factor-code').fill(totp(secret, confirmStep));
    await page.locator('[data-action="confirm-two-factor"]').click();
    await page.locator('[data-testid="recovery-card"]').waitFor();
    const codes = await page.locator('[data-testid="recovery-codes"] li').allTextContents();
    assert.equal(codes.length, 10);
    for (const c of codes) assert.match(c, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    await page.locator('[data-testid="two-factor-state"]').getByText('On').waitFor();
    await screenshot(page, 'two-factor-recovery-codes');
    await expectAccessible(page, 'recovery codes');
    await page.locator('[data-action="dismiss-recovery"]').click();
    assert.equal(await page.locator('[data-testid="recovery-card"]').count(), 0, 'shown once');

    // Sign out, then in: the password alone is not enough.
    await page.locator('[data-action="sign-out"]').click();
    await page.locator('#signin-email').waitFor();
    await fillSignIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.locator('[data-testid="signin-second"]').waitFor();
    await page.locator('.form-error').getByText('Two-factor is on').waitFor();
    assert.equal(await page.locator('.sidebar').count(), 0, 'no session without a code');
    await screenshot(page, 'two-factor-signin-code');
    await expectAccessible(page, 'sign-in with a code');

    await page.locator('#signin-totp').fill(wrongCode(secret));
    await page.locator('[data-action="sign-in"]').click();
    await page.locator('.form-error').getByText('That code is not right').waitFor();
    assert.equal(await page.locator('.sidebar').count(), 0, 'a wrong code signs nobody in');
    await screenshot(page, 'two-factor-signin-wrong');

    // A recovery code that is not one of the account's: refused too.
    await page.locator('[data-action="use-recovery-code"]').click();
    await page.getByLabel('Recovery code').fill('aaaa-bbbb-cccc-dddd');
    await page.locator('[data-action="sign-in"]').click();
    await page.locator('.form-error').getByText('recovery code is not valid').waitFor();
    assert.equal(await page.locator('.sidebar').count(), 0);
    await page.locator('[data-action="use-recovery-code"]').click();
    await page.getByLabel('Code from your authenticator app').waitFor();

    // A step after the one confirming used (within the ±1 step the server accepts).
    const code = totp(secret, Math.max(confirmStep + 1, stepNow()));
    await page.locator('#signin-totp').fill(code);
    await page.locator('[data-action="sign-in"]').click();
    await waitReady(page, 'overview');
    await page.locator('[data-testid="who"]').getByText(ADMIN_EMAIL).waitFor();

    // The same code again: refused by the API, with no session.
    const replay = await page.evaluate(async ([email, password, totpCode]) => {
      const r = await fetch('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password, totp: totpCode }) });
      return { status: r.status, code: (await r.json()).error.code };
    }, [ADMIN_EMAIL, ADMIN_PASSWORD, code]);
    assert.deepEqual(replay, { status: 401, code: 'totp_reused' });

    await page.locator('.nav-link', { hasText: 'My Account' }).click();
    await waitReady(page, 'account');
    await page.locator('[data-testid="two-factor-state"]').getByText('On').waitFor();
    await page.locator('#two-factor-proof').fill('not the password');
    await page.locator('[data-action="disable-two-factor"]').click();
    await page.locator('.two-factor-form .form-error').getByText('the password is wrong').waitFor();
    await screenshot(page, 'two-factor-on-wrong-password');
    await page.locator('#two-factor-proof').fill(ADMIN_PASSWORD);
    await page.locator('[data-action="disable-two-factor"]').click();
    await page.locator('[data-testid="two-factor-state"]').getByText('Off').waitFor();
    assert.deepEqual(events.pageErrors, []);
  } finally {
    await context.close();
  }
});

test('an admin resets a member\'s two-factor from the Users screen; the member signs in with the password alone', async () => {
  const admin = await newPage(browser);
  const member = await newPage(browser);
  try {
    const a = admin.page; const m = member.page;
    await fillSignIn(a, ADMIN_EMAIL, ADMIN_PASSWORD);
    await waitReady(a, 'overview');
    const invite = await a.evaluate(async (email) => {
      const r = await fetch('/api/users/invites', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, role: 'member' }) });
      return r.json();
    }, MEMBER_EMAIL);
    const token = new URL(invite.invite_url, server.base).hash.split('token=')[1];
    await m.goto(`${server.base}/#/accept-invite?token=${token}`);
    await m.locator('#invite-password').fill(MEMBER_PASSWORD);
    await m.locator('#invite-password-again').fill(MEMBER_PASSWORD);
    await m.locator('[data-action="accept-invite"]').click();
    await m.locator('.notice').getByText('is ready').waitFor();
    await m.locator('#signin-email').fill(MEMBER_EMAIL);
    await m.locator('#signin-password').fill(MEMBER_PASSWORD);
    await m.locator('[data-action="sign-in"]').click();
    await waitReady(m, 'overview');
    // The member turns two-factor on (through the API here; the screens are covered above).
    const setup = await m.evaluate(async () => (await fetch('/api/auth/two-factor/setup', { method: 'POST' })).json());
    const confirmed = await m.evaluate(async (code) => {
      const r = await fetch('/api/auth/two-factor/confirm', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
      return r.status;
    }, totp(setup.secret, stepNow()));
    assert.equal(confirmed, 200);
    // A member may not reset anyone's two-factor: the API refuses it.
    const members = await m.evaluate(async () => (await fetch('/api/users/00000000-0000-4000-8000-000000000000/two-factor/reset', { method: 'POST' })).status);
    assert.equal(members, 403);

    await a.locator('.nav-link', { hasText: 'Users' }).click();
    await waitReady(a, 'users');
    const row = a.locator(`tr[data-user="${MEMBER_EMAIL}"]`);
    await row.getByText('2FA').waitFor();
    assert.equal(await a.locator(`tr[data-user="${ADMIN_EMAIL}"] [data-action="reset-two-factor"]`).count(), 0, 'only users with two-factor on');
    await screenshot(a, 'two-factor-users');
    await row.locator('[data-action="reset-two-factor"]').click();
    const dialog = a.locator('.dialog');
    await dialog.getByText(`Reset two-factor for ${MEMBER_EMAIL}?`).waitFor();
    await screenshot(a, 'two-factor-reset-dialog');
    await dialog.locator('[data-action=confirm]').click();
    await a.locator('.toast').getByText(`Two-factor reset for ${MEMBER_EMAIL}`).waitFor();
    await waitReady(a, 'users');
    await row.locator('[data-action="disable-user"]').waitFor();
    assert.equal(await row.locator('[data-action="reset-two-factor"]').count(), 0);
    assert.equal(await row.getByText('2FA').count(), 0);

    await m.locator('[data-action="sign-out"]').click();
    await m.locator('#signin-email').waitFor();
    await fillSignIn(m, MEMBER_EMAIL, MEMBER_PASSWORD);
    await waitReady(m, 'overview');
    assert.deepEqual(admin.events.pageErrors, []);
    assert.deepEqual(member.events.pageErrors, []);
  } finally {
    await admin.context.close();
    await member.context.close();
  }
});

test('on a phone the set-up screen fits: nothing overlaps, is cut or runs off the screen', async () => {
  const { page, context, events } = await newPage(browser, { viewport: PHONE, bypassCSP: true });
  try {
    await fillSignIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await waitReady(page, 'overview');
    await page.goto(`${server.base}/#/account`);
    await waitReady(page, 'account');
    await page.locator('[data-action="start-two-factor"]').click();
    await page.locator('#two-factor-code').waitFor();
    const defects = await layoutDefects(page, '.two-factor-setup .field-label, .two-factor-setup .btn, .two-factor-setup li, .two-factor-setup .help', { noClip: ['.input'] });
    assert.deepEqual(defects, []);
    await screenshot(page, 'two-factor-setup-phone');
    await expectAccessible(page, 'set-up on a phone');
    assert.deepEqual(events.pageErrors, []);
  } finally {
    await context.close();
  }
});
