// Audit log (admins): who changed what, when and from where — GET /api/audit, filtered by UTC day range, actor
// and action, paged by cursor, exported as CSV from GET /api/audit/export. Entries are only ever set as text.
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { dateTime, ago, num } from '../format.js';
import { downloadText } from '../csv.js';
import { loading, empty, errorState, setContent, toast } from '../ui.js';

export const AUDIT_ACTIONS = [
  'lead.stage_moved', 'lead.released', 'lead.deleted', 'lead.edited', 'order.added', 'order.changed',
  'order.removed', 'leads.imported', 'leads.exported', 'spend.saved', 'spend.imported', 'spend.deleted',
  'rates.saved', 'rates.imported', 'rate.deleted', 'webhook.created', 'webhook.deleted', 'webhook.enabled',
  'webhook.retried', 'user.invited', 'user.created', 'user.changed', 'user.two_factor_reset', 'auth.signed_in',
  'auth.sign_in_failed', 'auth.signed_out', 'auth.two_factor_setup', 'auth.two_factor_enabled', 'auth.two_factor_disabled',
  'auth.two_factor_failed',
  'key.created', 'key.revoked', 'settings.changed', 'privacy.erased', 'privacy.exported',
];
const PAGE_SIZE = 50;
const MAX_DAYS = 31;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UTC day `back` days before today, as YYYY-MM-DD. */
function utcDay(back = 0) {
  return new Date(Date.now() - back * 86400000).toISOString().slice(0, 10);
}

/** A summary as short text: `from → to` for moves, else `key: value` pairs. */
export function summaryText(summary) {
  if (!summary || typeof summary !== 'object' || Array.isArray(summary)) return summary == null ? '' : JSON.stringify(summary);
  if (typeof summary.from === 'string' && typeof summary.to === 'string') return `${summary.from} → ${summary.to}`;
  return Object.entries(summary)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

export function renderAudit(root, ctx, { query } = {}) {
  ctx.setTitle('Audit Log', 'Who changed what, when and from where (UTC days)');
  const state = {
    filters: {
      from: (query && query.get('from')) || utcDay(6),
      to: (query && query.get('to')) || utcDay(0),
      actor: (query && query.get('actor')) || '',
      action: (query && query.get('action')) || '',
    },
    cursors: [undefined],
    page: 1,
  };
  let seq = 0;

  const from = h('input', { class: 'input', type: 'date', id: 'au-from', name: 'from', value: state.filters.from, 'aria-describedby': 'au-error' });
  const to = h('input', { class: 'input', type: 'date', id: 'au-to', name: 'to', value: state.filters.to, 'aria-describedby': 'au-error' });
  const actor = h('input', { class: 'input', type: 'search', id: 'au-actor', name: 'actor', value: state.filters.actor, placeholder: 'email or key:NAME', autocomplete: 'off' });
  const action = h('select', { class: 'select', id: 'au-action', name: 'action' },
    h('option', { value: '' }, 'Any action'), AUDIT_ACTIONS.map((a) => h('option', { value: a }, a)));
  action.value = state.filters.action;
  const formError = h('p', { class: 'field-error', id: 'au-error', role: 'alert', hidden: true });
  const apply = h('button', { class: 'btn btn-primary', type: 'submit', 'data-action': 'apply-audit' }, icon('filter'), 'Apply');

  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'export-audit', 'aria-label': 'Export CSV', onclick: () => exportCsv() },
    icon('download'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Export CSV'));
  const refreshBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh-audit', 'aria-label': 'Refresh', onclick: () => load() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(exportBtn, refreshBtn);

  const summary = h('div', { class: 'table-summary', role: 'status', 'aria-live': 'polite' });
  const host = h('div', { class: 'table-host' });
  const prevBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'prev-page', onclick: () => { state.page -= 1; load(); } }, icon('chevronLeft'), 'Previous');
  const nextBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'next-page', onclick: () => { state.page += 1; load(); } }, 'Next', icon('chevronRight'));
  const pageLabel = h('span', { class: 'muted' });

  const field = (label, id, el) => h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: id }, label), el);
  root.append(
    h('form', {
      class: 'filters filters-audit card', role: 'search', 'aria-label': 'Filter the audit log',
      onsubmit: (e) => { e.preventDefault(); applyFilters(); },
    },
    field('From (UTC)', 'au-from', from), field('To (UTC)', 'au-to', to), field('Actor', 'au-actor', actor),
    field('Action', 'au-action', action), h('div', { class: 'filter filter-apply' }, apply), formError),
    h('section', { class: 'card card-table', 'aria-label': 'Audit log' },
      h('div', { class: 'table-toolbar' }, summary), host,
      h('div', { class: 'pager' }, pageLabel, h('div', { class: 'pager-buttons' }, prevBtn, nextBtn))));

  function params() {
    const f = state.filters;
    return { from: f.from, to: f.to, actor: f.actor.trim(), action: f.action };
  }

  function applyFilters() {
    const f = { from: from.value, to: to.value, actor: actor.value, action: action.value };
    const days = (Date.parse(f.to) - Date.parse(f.from)) / 86400000;
    if (!f.from || !f.to || !(days >= 0)) return showError('Pick a start day on or before the end day.');
    if (days >= MAX_DAYS) return showError(`The audit log shows at most ${MAX_DAYS} days at a time.`);
    formError.hidden = true;
    state.filters = f;
    state.cursors = [undefined];
    state.page = 1;
    const qs = new URLSearchParams(Object.entries(params()).filter(([, v]) => v)).toString();
    history.replaceState(null, '', `#/audit${qs ? `?${qs}` : ''}`);
    load();
  }

  function showError(message) {
    formError.textContent = message;
    formError.hidden = false;
  }

  async function exportCsv() {
    exportBtn.disabled = true;
    try {
      const text = await api.auditCsv(params());
      downloadText(`audit-log_${state.filters.from}_${state.filters.to}.csv`, text);
      toast('Audit log exported', 'success');
    } catch (e) {
      if (e.status !== 401) toast(e.message, 'error');
    } finally {
      exportBtn.disabled = false;
    }
  }

  async function load() {
    const me = ++seq;
    ctx.busy();
    prevBtn.disabled = true; nextBtn.disabled = true;
    setContent(host, loading('Loading the audit log…'));
    let res;
    try {
      res = await api.audit({ ...params(), limit: PAGE_SIZE, cursor: state.cursors[state.page - 1] });
    } catch (e) {
      if (me !== seq || !ctx.isCurrent()) return;
      if (e.status === 401) return;
      setContent(summary, '');
      if (e.status === 400 && e.field) showError(e.message);
      setContent(host, errorState(e.status === 403 ? new Error('The audit log is for admins only.') : e, load));
      pageLabel.textContent = '';
      ctx.ready();
      return;
    }
    if (me !== seq || !ctx.isCurrent()) return;
    const entries = res && Array.isArray(res.entries) ? res.entries : [];
    state.cursors[state.page] = res && res.next_cursor ? res.next_cursor : undefined;
    if (!entries.length) {
      setContent(summary, state.page === 1 ? 'No changes' : 'No more entries');
      setContent(host, empty(state.page === 1 ? 'No changes in these days' : 'No more entries',
        'Stage moves, deletes, orders, imports, webhook, spend and rate changes appear here with who made them.'));
    } else {
      const start = (state.page - 1) * PAGE_SIZE + 1;
      setContent(summary, h('strong', {}, `${num(start)}–${num(start + entries.length - 1)}`), ' changes, newest first');
      setContent(host, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Audit log table' },
        h('table', { class: 'table audit-table' },
          h('thead', {}, h('tr', {}, ['Time', 'Actor', 'Action', 'Target', 'Client', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, entries.map(row)))));
    }
    prevBtn.disabled = state.page <= 1;
    nextBtn.disabled = !state.cursors[state.page];
    pageLabel.textContent = `Page ${num(state.page)}`;
    ctx.ready();
  }

  function row(e) {
    const target = String(e.target || '-');
    const action = String(e.action || '');
    const leadTarget = UUID.test(target) && /^(lead|order)\./.test(action) && action !== 'lead.deleted';
    const role = e.actor && typeof e.actor.role === 'string' ? e.actor.role : '';
    return h('tr', { 'data-entry-id': String(e.id || ''), 'data-action-name': action },
      h('td', { 'data-label': 'Time', class: 'cell-time', title: String(e.at || '') },
        h('div', {}, dateTime(e.at)), h('div', { class: 'muted small' }, ago(e.at))),
      h('td', { 'data-label': 'Actor', class: 'cell-actor' },
        h('div', { class: 'audit-actor' }, String(e.actor_label || '—')), role ? h('div', { class: 'muted small' }, role) : null),
      h('td', { 'data-label': 'Action' }, h('span', { class: /deleted|removed|revoked|failed/.test(action) ? 'badge badge-danger' : 'badge' }, action)),
      h('td', { 'data-label': 'Target', class: 'mono small cell-target' },
        leadTarget ? h('a', { class: 'link-btn', href: `#/leads/${encodeURIComponent(target)}` }, target) : target),
      h('td', { 'data-label': 'Client', class: 'mono small' }, e.client_ip ? String(e.client_ip) : '—'),
      h('td', { 'data-label': 'Change', class: 'small cell-summary' }, summaryText(e.summary)));
  }

  load();
}
