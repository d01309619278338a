// Postback Log: "why is my lead missing?" — refused and quarantined postbacks from GET /api/postbacks (admin key).
// Bodies are untrusted text from anyone on the internet: they are only ever set as text nodes, never as HTML.
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { dateTime, ago, num } from '../format.js';
import { loading, empty, errorState, setContent } from '../ui.js';

const STATUSES = [
  { value: 'rejected', label: 'Rejected', help: 'Refused postbacks: not JSON, not an object, too large, wrong content type or a bad key. No lead was stored.' },
  { value: 'quarantined', label: 'Quarantined', help: 'Stored, but held back as likely bots (honeypot, bot user agent, too many new leads from one address). Release them in All Leads.' },
];
const PAGE_SIZE = 25;
const KEY_LABELS = { server: 'Server key', public: 'Browser key', admin: 'Admin key', none: 'No key', invalid: 'Wrong key' };

export function renderPostbacks(root, ctx, { query } = {}) {
  ctx.setTitle('Postback Log', 'Why is my lead missing? Refused and quarantined postbacks');
  const wanted = query && query.get('status');
  const state = {
    status: STATUSES.some((s) => s.value === wanted) ? wanted : 'rejected',
    cursors: [undefined], // cursor of each page seen so far; index = page - 1
    page: 1,
  };
  let seq = 0;

  const statusSel = h('select', { class: 'select', id: 'pb-status', name: 'status', 'data-action': 'postback-status' },
    STATUSES.map((s) => h('option', { value: s.value }, s.label)));
  statusSel.value = state.status;
  const help = h('p', { class: 'muted small', id: 'pb-status-help' });
  statusSel.setAttribute('aria-describedby', 'pb-status-help');
  statusSel.addEventListener('change', () => {
    state.status = statusSel.value;
    history.replaceState(null, '', `#/postbacks?status=${state.status}`);
    state.cursors = [undefined];
    state.page = 1;
    load();
  });
  const refreshBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh-postbacks', 'aria-label': 'Refresh', onclick: () => load() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(refreshBtn);

  const summary = h('div', { class: 'table-summary', role: 'status', 'aria-live': 'polite' });
  const host = h('div', { class: 'table-host' });
  const prevBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'prev-page', onclick: () => { state.page -= 1; load(); } }, icon('chevronLeft'), 'Previous');
  const nextBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'next-page', onclick: () => { state.page += 1; load(); } }, 'Next', icon('chevronRight'));
  const pageLabel = h('span', { class: 'muted' });
  const pager = h('div', { class: 'pager' }, pageLabel, h('div', { class: 'pager-buttons' }, prevBtn, nextBtn));

  root.append(
    h('form', { class: 'filters filters-postbacks card', role: 'search', 'aria-label': 'Filter the postback log', onsubmit: (e) => e.preventDefault() },
      h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: 'pb-status' }, 'Show'), statusSel),
      h('div', { class: 'filter filter-wide' }, help)),
    h('section', { class: 'card card-table', 'aria-label': 'Postback log' },
      h('div', { class: 'table-toolbar' }, summary), host, pager));

  async function load() {
    const me = ++seq;
    ctx.busy();
    help.textContent = STATUSES.find((s) => s.value === state.status).help;
    prevBtn.disabled = true; nextBtn.disabled = true;
    setContent(host, loading('Loading the postback log…'));
    let res;
    try {
      res = await api.postbacks({ status: state.status, limit: PAGE_SIZE, cursor: state.cursors[state.page - 1] });
    } catch (e) {
      if (me !== seq || !ctx.isCurrent()) return;
      if (e.status === 401) return; // the app shows the sign-in screen
      setContent(summary, '');
      setContent(host, errorState(e.status === 403
        ? new Error('The postback log needs the admin key. Sign out and sign in with ADMIN_API_KEY.')
        : e, load));
      pageLabel.textContent = '';
      ctx.ready();
      return;
    }
    if (me !== seq || !ctx.isCurrent()) return;
    const entries = res && Array.isArray(res.entries) ? res.entries : [];
    state.cursors[state.page] = res && res.next_cursor ? res.next_cursor : undefined;
    const label = state.status === 'rejected' ? 'refused postback' : 'quarantined postback';
    if (!entries.length) {
      setContent(summary, state.page === 1 ? `No ${label}s` : 'No more entries');
      setContent(host, empty(state.page === 1 ? `No ${label}s` : 'No more entries',
        state.status === 'rejected'
          ? 'Every postback in the last days was accepted. Refused ones appear here with the reason and the start of the body.'
          : 'No postback was quarantined in the last days.'));
    } else {
      const start = (state.page - 1) * PAGE_SIZE + 1;
      setContent(summary, h('strong', {}, `${num(start)}–${num(start + entries.length - 1)}`), ` ${label}s, newest first`);
      setContent(host, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Postback log table' },
        h('table', { class: 'table postbacks-table' },
          h('thead', {}, h('tr', {},
            ['Time', 'Reason', 'Key', 'Client', 'Body'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, entries.map(row)))));
    }
    prevBtn.disabled = state.page <= 1;
    nextBtn.disabled = !state.cursors[state.page];
    pageLabel.textContent = `Page ${num(state.page)}`;
    ctx.ready();
  }

  function row(e) {
    const body = typeof e.body === 'string' ? e.body : '';
    return h('tr', { 'data-entry-id': String(e.id || '') },
      h('td', { 'data-label': 'Time', class: 'cell-time', title: String(e.at || '') },
        h('div', {}, dateTime(e.at)), h('div', { class: 'muted small' }, ago(e.at))),
      h('td', { 'data-label': 'Reason', class: 'cell-reason' },
        h('span', { class: e.status === 'quarantined' ? 'badge badge-warn' : 'badge badge-danger', 'data-reason': String(e.reason || '') }, String(e.reason || '—')),
        h('div', { class: 'small' }, String(e.message || '')),
        e.lead_id ? h('a', { class: 'link-btn small', href: `#/leads/${encodeURIComponent(e.lead_id)}?quarantine=only` }, 'Open lead') : null),
      h('td', { 'data-label': 'Key', class: 'small' }, KEY_LABELS[e.key] || String(e.key || '—')),
      h('td', { 'data-label': 'Client', class: 'mono small' }, e.client_ip ? String(e.client_ip) : '—'),
      h('td', { 'data-label': 'Body', class: 'cell-body' },
        body ? h('pre', { class: 'body-excerpt' }, body) : h('span', { class: 'muted' }, '(empty body)')));
  }

  load();
}
