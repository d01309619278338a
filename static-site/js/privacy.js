// Privacy requests from the lead drawer (admin): download everything held about the person, or erase them
// everywhere (POST /api/privacy/erasure), optionally keeping their email from coming back.
import { h } from './dom.js';
import { api } from './api.js';
import { leadName, num } from './format.js';
import { confirmDialog, toast } from './ui.js';
import { downloadText } from './csv.js';
import { noteLocalChange } from './live.js';

/** Who a request names: the lead, and every other lead with its email. */
function person(lead) {
  return lead.email ? { lead_id: lead.id, email: lead.email } : { lead_id: lead.id };
}

/** Downloads GET /api/privacy/export for the lead's person as a JSON file. */
export async function exportPerson(lead) {
  try {
    const data = await api.exportPerson(person(lead));
    const day = new Date().toISOString().slice(0, 10);
    downloadText(`leadpipe-person-${lead.id}-${day}.json`, `${JSON.stringify(data, null, 2)}\n`, 'application/json');
    const n = Array.isArray(data.leads) ? data.leads.length : 0;
    toast(`Downloaded everything held about ${leadName(lead)} (${num(n)} ${n === 1 ? 'lead' : 'leads'})`, 'success');
  } catch (e) {
    if (e.status !== 401) toast(`Could not export the person's data: ${e.message}`, 'error');
  }
}

/** What the receipt says was erased, for people. */
export function receiptText(receipt) {
  const c = receipt.copies || {};
  const parts = [
    [c.postback_log, 'postback-log entry', 'postback-log entries'],
    [c.deliveries, 'webhook delivery', 'webhook deliveries'],
    [c.audit_redacted, 'audit summary', 'audit summaries'],
    [c.idempotency, 'stored replay', 'stored replays'],
  ].filter(([n]) => n > 0).map(([n, one, many]) => `${num(n)} ${n === 1 ? one : many}`);
  const leads = Array.isArray(receipt.leads) ? receipt.leads.length : 0;
  return `Erased ${num(leads)} ${leads === 1 ? 'lead' : 'leads'}${parts.length ? ` and ${parts.join(', ')}` : ''}.`
    + (receipt.suppressed ? ' The email is on the suppression list.' : '');
}

/** Erases the lead's person after an in-page confirmation. Resolves the receipt, or null. */
export async function erasePerson(lead) {
  const suppress = h('input', { class: 'check', type: 'checkbox', checked: true, 'data-field': 'suppress' });
  const ok = await confirmDialog({
    title: 'Erase this person everywhere?',
    body: h('div', {},
      h('p', {}, h('strong', {}, leadName(lead)),
        lead.email ? ` and every lead with ${lead.email}` : '',
        ' will be erased with every copy: stage history, postback log, webhook deliveries, and the personal data in audit summaries.'),
      h('p', { class: 'muted' }, 'Counts and money totals keep them as anonymous totals. This cannot be undone; download their data first if they asked for it.'),
      lead.email ? h('label', { class: 'check-row check-top' }, suppress,
        h('span', {}, 'Refuse later postbacks for this email (suppression list: a keyed hash, not the address)')) : null),
    confirmLabel: 'Erase person',
    danger: true,
  });
  if (!ok) return null;
  try {
    const receipt = await api.erasePerson({ ...person(lead), suppress: Boolean(lead.email && suppress.checked) });
    noteLocalChange();
    toast(receiptText(receipt), 'success');
    return receipt;
  } catch (e) {
    if (e.status !== 401) toast(`Could not erase the person: ${e.message}`, 'error');
    return null;
  }
}
