// Lead actions shared by the board, the table and the detail drawer.
import { h } from './dom.js';
import { api } from './api.js';
import { leadName } from './format.js';
import { confirmDialog, toast, stageChip } from './ui.js';
import { noteLocalChange } from './live.js';

export function isBackward(from, to, stages) {
  const a = stages.indexOf(from);
  const b = stages.indexOf(to);
  return a >= 0 && b >= 0 && b < a;
}

/**
 * Move a lead to another stage. Asks for confirmation when moving backwards.
 * Resolves to the updated lead, or null when cancelled / failed (a toast explains failures).
 */
export async function moveLead(lead, to, stages) {
  if (!to || to === lead.stage) return null;
  if (isBackward(lead.stage, to, stages)) {
    const ok = await confirmDialog({
      title: 'Move this lead backwards?',
      body: h('div', {},
        h('p', {}, h('strong', {}, leadName(lead)), ' will go back from ', stageChip(lead.stage, stages), ' to ', stageChip(to, stages), '.'),
        h('p', { class: 'muted' }, 'The move is recorded in the lead\'s stage history.')),
      confirmLabel: `Move back to ${to}`,
    });
    if (!ok) return null;
  }
  try {
    const res = await api.setStage(lead.id, to);
    noteLocalChange();
    toast(`${leadName(res.lead)} moved to ${res.lead.stage}`, 'success');
    return res.lead;
  } catch (e) {
    if (e.status !== 401) toast(`Could not move the lead: ${e.message}`, 'error');
    return null;
  }
}

/** Delete after an in-page confirmation. Resolves true when deleted. */
export async function deleteLead(lead) {
  const ok = await confirmDialog({
    title: 'Delete this lead?',
    body: h('div', {},
      h('p', {}, h('strong', {}, leadName(lead)), lead.email && leadName(lead) !== lead.email ? ` (${lead.email})` : '', ' and its stage history will be permanently deleted.'),
      h('p', { class: 'muted' }, 'This cannot be undone.')),
    confirmLabel: 'Delete lead',
    danger: true,
  });
  if (!ok) return false;
  try {
    await api.deleteLead(lead.id);
    noteLocalChange();
    toast(`${leadName(lead)} was deleted`, 'success');
    return true;
  } catch (e) {
    if (e.status === 404) { noteLocalChange(); toast('That lead was already deleted', 'info'); return true; }
    if (e.status !== 401) toast(`Could not delete the lead: ${e.message}`, 'error');
    return false;
  }
}

/** The "Quarantined" badge of a lead held back as a likely bot (lead.quarantine = {reason, at}). */
export function quarantineBadge(lead) {
  const q = lead.quarantine || {};
  const reason = typeof q.reason === 'string' && q.reason ? q.reason : '';
  return h('span', { class: 'badge badge-quarantine', 'data-quarantined': 'true', title: reason ? `Quarantined: ${reason}` : 'Quarantined' },
    'Quarantined', reason ? h('span', { class: 'sr-only' }, ` (${reason})`) : null);
}

/** Release a quarantined lead after an in-page confirmation. Resolves to the released lead, or null. */
export async function releaseLead(lead) {
  const q = lead.quarantine || {};
  const ok = await confirmDialog({
    title: 'Release this lead from quarantine?',
    body: h('div', {},
      h('p', {}, h('strong', {}, leadName(lead)), ' was quarantined', q.reason ? [' (', h('code', {}, String(q.reason)), ')'] : null,
        '. Released, it counts in analytics and shows on the board again.'),
      h('p', { class: 'muted' }, 'Only release leads you believe are real people.')),
    confirmLabel: 'Release lead',
  });
  if (!ok) return null;
  try {
    const res = await api.releaseLead(lead.id);
    noteLocalChange();
    toast(`${leadName(lead)} was released from quarantine`, 'success');
    return res && res.lead ? res.lead : lead;
  } catch (e) {
    if (e.status !== 401) toast(`Could not release the lead: ${e.message}`, 'error');
    return null;
  }
}

/** A <select> to move a lead; the keyboard/menu alternative to drag and drop. */
export function stageSelect(lead, stages, onPick, { compact = false, placeholder } = {}) {
  const sel = h('select', {
    class: compact ? 'select select-sm move-select' : 'select move-select',
    'aria-label': `Move ${leadName(lead)} to stage`,
    'data-lead-id': lead.id,
  },
  h('option', { value: '' }, placeholder || (compact ? 'Move to…' : 'Change stage…')),
  stages.filter((st) => st !== lead.stage).map((st) => h('option', { value: st },
    `${isBackward(lead.stage, st, stages) ? '← ' : '→ '}${st}`)));
  sel.addEventListener('change', async () => {
    const to = sel.value;
    sel.value = '';
    if (to) await onPick(to);
  });
  return sel;
}

/**
 * Run fn(item) over items with at most `limit` in flight. Resolves to [{item, ok, value|error}] in input order.
 * onProgress(done, total) after each item.
 */
export async function mapBounded(items, limit, fn, onProgress) {
  const results = new Array(items.length);
  let next = 0;
  let done = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { item: items[i], ok: true, value: await fn(items[i]) };
      } catch (error) {
        results[i] = { item: items[i], ok: false, error };
      }
      done += 1;
      if (onProgress) onProgress(done, items.length);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
