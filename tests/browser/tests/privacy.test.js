// Privacy requests from the lead drawer (issue 25): an admin downloads everything held about a person as JSON,
// and its consent, then erases them: the dialog says what goes and offers the suppression list, the receipt is shown, the lead is
// gone from the API and a later postback for the email is refused. Members and viewers do not see either button.
// Screenshots at both sizes; no overlaps or clipped text in the dialog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launchBrowser, newPage, screenshot, go, waitDrawer, PHONE } from '../lib/harness.js';
import { layoutDefects } from '../lib/layout.js';

const ADMIN = 'privacy-admin-key';
const INGEST = 'privacy-ingest-key';
const EMAIL = 'ada.erase-me@example.org';

let server; let browser; let page; let adaId; let keptId;

/** The API as the admin key (or `key`), through the harness's client: {status, body}. */
async function call(method, p, body, key = ADMIN) {
  const r = await server.api.call(method, p, { body, key });
  return { status: r.status, body: r.json };
}

before(async () => {
  server = await startServer({ adminKey: ADMIN, ingestKey: INGEST });
  browser = await launchBrowser();
  ({ page } = await newPage(browser));
  const a = await call('POST', '/api/postback', {
    email: EMAIL, first_name: 'Ada', last_name: 'Lovelace', phone: '+44 20 7946 0958', stage: 'Form Started',
    consent: { purposes: { marketing: true, ad_user_data: false }, version: 'v2' },
  }, INGEST);
  const b = await call('POST', '/api/postback', { email: 'grace.kept@example.org', first_name: 'Grace' }, INGEST);
  adaId = a.body.lead_id; keptId = b.body.lead_id;
  assert.equal((await call('PUT', `/api/leads/${adaId}/stage`, { stage: 'Application Submitted' })).status, 200);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an admin downloads everything held about a person, then erases them everywhere', async () => {
  await go(page, server.base, `#/leads/${adaId}`, ADMIN);
  await waitDrawer(page, adaId);
  const drawer = page.locator('.drawer');
  // The consent the postback carried, per purpose.
  await drawer.locator('.section-consent dd[data-purpose="marketing"][data-granted="true"]').getByText('Granted').waitFor();
  await drawer.locator('.section-consent dd[data-purpose="ad_user_data"][data-granted="false"]').getByText('Refused').waitFor();
  await drawer.locator('.section-consent').getByText(/^Wording v2 · .* · 1 change recorded$/).waitFor();
  await screenshot(page, 'privacy-drawer-consent', { fullPage: false });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    drawer.locator('[data-action="export-person"]').click(),
  ]);
  assert.match(download.suggestedFilename(), new RegExp(`^leadpipe-person-${adaId}-\\d{4}-\\d{2}-\\d{2}\\.json$`));
  const data = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(data.leads.length, 1);
  assert.equal(data.leads[0].lead.email, EMAIL);
  assert.equal(data.leads[0].lead.last_name, 'Lovelace');
  assert.ok(data.leads[0].history.length >= 2, 'the history is in the export');
  assert.equal(data.suppressed, false);
  assert.deepEqual(data.leads[0].lead.consent.purposes, { ad_user_data: false, marketing: true }, 'consent is in the export');
  await page.locator('.toast').getByText('Downloaded everything held about Ada Lovelace (1 lead)').waitFor();

  await drawer.locator('[data-action="erase-person"]').click();
  const dialog = page.locator('.dialog');
  await dialog.getByText('Erase this person everywhere?').waitFor();
  await dialog.getByText(`every lead with ${EMAIL}`).waitFor();
  const suppress = dialog.locator('input[data-field="suppress"]');
  assert.equal(await suppress.isChecked(), true, 'suppression is offered and on by default');
  assert.deepEqual(await layoutDefects(page, '.dialog'), [], 'the dialog lays out cleanly');
  await screenshot(page, 'privacy-erase-dialog', { fullPage: false });
  await dialog.locator('[data-action=cancel]').click();
  assert.equal((await call('GET', `/api/leads/${adaId}`)).status, 200, 'cancel keeps the person');

  await drawer.locator('[data-action="erase-person"]').click();
  await dialog.locator('[data-action=confirm]').click();
  await page.locator('.toast').getByText(/^Erased 1 lead and .*The email is on the suppression list\.$/).waitFor();
  await page.locator('.drawer').waitFor({ state: 'detached' });
  assert.equal((await call('GET', `/api/leads/${adaId}`)).status, 404);
  assert.equal((await call('GET', `/api/leads/${keptId}`)).status, 200);
  const again = await call('POST', '/api/postback', { email: EMAIL, first_name: 'Ada' }, INGEST);
  assert.deepEqual([again.status, again.body.error.code], [422, 'suppressed']);
  await screenshot(page, 'privacy-erased');
});

test('the privacy buttons are for admins only, and fit a phone', async () => {
  const { page: phone } = await newPage(browser, { viewport: PHONE });
  await go(phone, server.base, `#/leads/${keptId}`, ADMIN);
  await waitDrawer(phone, keptId);
  const buttons = phone.locator('.drawer [data-action="export-person"], .drawer [data-action="erase-person"]');
  assert.equal(await buttons.count(), 2);
  for (const b of await buttons.all()) assert.ok(await b.isVisible(), 'an admin sees both');
  assert.deepEqual(await layoutDefects(phone, '.drawer-privacy'), [], 'the privacy row lays out without overlap at 390 px');
  await screenshot(phone, 'privacy-drawer-phone', { fullPage: false });
  for (const role of ['member', 'viewer']) {
    await phone.evaluate((r) => { document.body.dataset.role = r; }, role);
    for (const b of await buttons.all()) assert.equal(await b.isVisible(), false, `a ${role} does not see ${await b.getAttribute('data-action')}`);
  }
  await phone.close();
});
