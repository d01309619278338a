// All Leads: filterable, sortable, cursor-paginated table with a column chooser, row selection and bulk actions.
// Every lead has a URL, #/leads/<id>?<filters>, that opens its drawer over the table.
import { h, icon, clear } from '../dom.js';
import { api, loadStages } from '../api.js';
import { leadName, date, time, num, display, ago, dateTime } from '../format.js';
import { loading, errorState, empty, setContent, stageChip, toast, confirmDialog } from '../ui.js';
import { moveLead, deleteLead, releaseLead, quarantineBadge, stageSelect, isBackward, mapBounded } from '../actions.js';
import { toCsv, csvColumns, downloadText, exportFileName } from '../csv.js';
import { noteLocalChange } from '../live.js';
import { openLead } from './lead.js';
import { valuePicker } from '../pickers.js';
import { leadRevenue, moneyListText } from '../money.js';
import { moneyListEl } from '../money-ui.js';

const FILTER_KEYS = ['stage', 'search', 'source', 'campaign', 'from', 'to', 'quarantine'];
const PAGE_SIZES = [10, 25, 50, 100];
const EXPORT_PAGE = 200;
const BULK_CONCURRENCY = 4;
/** Empty pages with a cursor followed before showing one (each is one bounded read on the server). */
const FOLLOW_EMPTY_PAGES = 10;
const COLUMNS_KEY = 'leadpipe.leads.columns';
/**
 * Orders of the table, all the server's (across pages, with cursors): newest/oldest by creation; revenue /
 * revenue_asc by the revenue in the reporting currency, listing only the leads with orders.
 */
const SORTS = ['newest', 'oldest', 'revenue', 'revenue_asc'];
const REVENUE_SORTS = { revenue: 'desc', revenue_asc: 'asc' };

const pctCell = (lead) => {
  const p = lead.form_completion_percent;
  if (p === null || p === undefined || !Number.isFinite(Number(p))) return '—';
  const fill = h('span', { class: 'progress-fill' });
  fill.style.width = `${Math.max(0, Math.min(100, Number(p)))}%`;
  return h('div', { class: 'mini-progress' }, h('span', { class: 'progress progress-sm', 'aria-hidden': 'true' }, fill), h('span', {}, `${Math.round(Number(p))}%`));
};
const text = (v, cls = 'cell-text') => ({ cls, title: v == null ? undefined : String(v), value: display(v) });

/** The table's columns. `on`: shown by default; `fixed`: always shown. */
export const COLUMNS = [
  { key: 'date', label: 'Date', on: true, cls: 'cell-date', render: (l) => [h('div', {}, date(l.created_at)), h('div', { class: 'muted small' }, time(l.created_at))], title: (l) => l.created_at },
  { key: 'name', label: 'Name / Email', on: true, fixed: true, cls: 'cell-name' },
  { key: 'phone', label: 'Phone', on: true, ...{ get: (l) => text(l.phone) } },
  { key: 'stage', label: 'Stage', on: true, cls: 'cell-stage' },
  { key: 'source', label: 'Source', on: true, get: (l) => text(l.source) },
  { key: 'campaign', label: 'Campaign', on: true, get: (l) => text(l.campaign, 'cell-campaign') },
  { key: 'form', label: 'Form %', on: true, render: pctCell },
  { key: 'revenue', label: 'Revenue', on: true, cls: 'cell-revenue', render: (l) => moneyListEl(leadRevenue(l), { none: 'no orders' }), title: (l) => moneyListText(leadRevenue(l)) || 'No counted orders' },
  // Off by default since Revenue joined the defaults (the table must fit 1440 px); in the chooser and the drawer.
  { key: 'ip', label: 'IP', on: false, get: (l) => text(l.ip_address, 'mono small cell-text cell-ip') },
  { key: 'device', label: 'Device', on: true, get: (l) => text(l.device_type, 'cell-text cell-device') },
  { key: 'in_stage', label: 'In stage', on: false, render: (l) => ago(l.stage_entered_at).replace(' ago', ''), title: (l) => `Since ${dateTime(l.stage_entered_at)}` },
  { key: 'company', label: 'Company', on: false, get: (l) => text(l.company) },
  { key: 'domain', label: 'Domain', on: false, get: (l) => text(l.domain) },
  { key: 'utm_medium', label: 'UTM medium', on: false, get: (l) => text(l.utm_medium) },
  { key: 'browser', label: 'Browser', on: false, get: (l) => text(l.browser) },
  { key: 'updated', label: 'Updated', on: false, render: (l) => ago(l.updated_at), title: (l) => l.updated_at },
];

function loadColumnChoice() {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) || 'null');
    if (Array.isArray(saved)) return new Set([...saved.filter((k) => COLUMNS.some((c) => c.key === k)), ...COLUMNS.filter((c) => c.fixed).map((c) => c.key)]);
  } catch { /* unreadable: defaults */ }
  return new Set(COLUMNS.filter((c) => c.on).map((c) => c.key));
}
function saveColumnChoice(set) {
  try { localStorage.setItem(COLUMNS_KEY, JSON.stringify([...set])); } catch { /* storage disabled: this page only */ }
}

/** The query string of a filter state, in a stable order (also used to compare URLs). */
function stateQuery({ filters, limit, sort }) {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) if (filters[k]) p.set(k, filters[k]);
  if (sort) p.set('sort', sort);
  if (limit !== 25) p.set('limit', String(limit));
  return p.toString();
}
function parseState(q) {
  return {
    filters: Object.fromEntries(FILTER_KEYS.map((k) => [k, k === 'quarantine' ? (q.get(k) === 'only' ? 'only' : '') : (q.get(k) || '').trim()])),
    limit: PAGE_SIZES.includes(Number(q.get('limit'))) ? Number(q.get('limit')) : 25,
    sort: SORTS.includes(q.get('sort')) ? q.get('sort') : '',
  };
}
function currentParts() {
  const raw = location.hash.replace(/^#\/?/, '').split('?')[0];
  return raw.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
}

export function renderLeads(root, ctx, params = {}) {
  ctx.setTitle('All Leads', 'Search, filter and manage every lead');
  const q = params.query || new URLSearchParams();
  const state = {
    ...parseState(q),
    cursor: null, // cursor of the page being shown (null = first page)
    prev: [], // stack of cursors of earlier pages
    page: 1,
    next: null,
    total: null,
    totalExact: true,
    rows: [],
    stages: [],
    seq: 0,
    columns: loadColumnChoice(),
    selected: new Map(), // id -> lead
    fresh: { added: 0, changed: false }, // live changes not shown yet
  };

  const listHash = () => { const qs = stateQuery(state); return `#/leads${qs ? `?${qs}` : ''}`; };
  const leadHash = (id) => { const qs = stateQuery(state); return `#/leads/${encodeURIComponent(id)}${qs ? `?${qs}` : ''}`; };

  // ---- header actions: column chooser, export ----
  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'export-csv', 'aria-label': 'Export CSV', onclick: () => exportCsv() },
    icon('download'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Export CSV'));
  const colsBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'columns', 'aria-expanded': 'false', 'aria-controls': 'column-chooser', 'aria-label': 'Choose columns' },
    icon('columns'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Columns'));
  const colsPop = h('div', { class: 'popover', id: 'column-chooser', hidden: true });
  const colsWrap = h('div', { class: 'popover-wrap' }, colsBtn, colsPop);
  ctx.setActions(colsWrap, exportBtn);
  buildColumnChooser();

  // ---- filters ----
  const stageSel = h('select', { class: 'select', name: 'stage', id: 'f-stage' }, h('option', { value: '' }, 'All stages'));
  const search = h('input', {
    class: 'input', type: 'search', name: 'search', id: 'f-search', placeholder: 'Name, email, phone…  ( / )', value: state.filters.search,
    'data-shortcut': 'search', 'aria-keyshortcuts': '/',
  });
  const source = h('input', { class: 'input', type: 'text', name: 'source', id: 'f-source', placeholder: 'Any source', value: state.filters.source });
  const campaign = h('input', { class: 'input', type: 'text', name: 'campaign', id: 'f-campaign', placeholder: 'Any campaign', value: state.filters.campaign });
  // Pickers: every known source / campaign with its leads (typed values still filter).
  const sourceList = valuePicker(source, 'source');
  const campaignList = valuePicker(campaign, 'campaign');
  const from = h('input', { class: 'input', type: 'date', name: 'from', id: 'f-from', value: state.filters.from, 'aria-describedby': 'date-error' });
  const to = h('input', { class: 'input', type: 'date', name: 'to', id: 'f-to', value: state.filters.to, 'aria-describedby': 'date-error' });
  // Quarantined leads (likely bots) are left out by default; the server lists them with quarantine=only.
  const quarSel = h('select', { class: 'select', name: 'quarantine', id: 'f-quarantine', 'data-action': 'quarantine-filter' },
    h('option', { value: '', selected: state.filters.quarantine !== 'only' }, 'Active leads'),
    h('option', { value: 'only', selected: state.filters.quarantine === 'only' }, 'Quarantine'));
  const sortSel = h('select', { class: 'select', name: 'sort', id: 'f-sort' },
    h('option', { value: 'newest', selected: state.sort !== 'oldest' }, 'Newest first'),
    h('option', { value: 'oldest', selected: state.sort === 'oldest' }, 'Oldest first'),
    h('option', { value: 'revenue', selected: state.sort === 'revenue' }, 'Highest revenue'),
    h('option', { value: 'revenue_asc', selected: state.sort === 'revenue_asc' }, 'Lowest revenue'));
  const limitSel = h('select', { class: 'select select-sm', name: 'limit', 'aria-label': 'Rows per page' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.limit }, `${n} per page`)));
  const dateError = h('p', { class: 'filter-error', id: 'date-error', role: 'alert', hidden: true });
  const clearBtn = h('button', { class: 'btn btn-ghost', type: 'button', 'data-action': 'clear-filters', onclick: () => {
    for (const el of [stageSel, search, source, campaign, from, to, quarSel]) el.value = '';
    applyFilters();
  } }, 'Clear');

  const field = (label, id, control, cls = '', extra = null) => h('div', { class: `filter ${cls}` }, h('label', { class: 'filter-label', for: id }, label), control, extra);
  const searchWrap = h('div', { class: 'input-icon' }, icon('search'), search);
  const filters = h('form', { class: 'filters filters-leads card', role: 'search', 'aria-label': 'Filter leads', onsubmit: (e) => { e.preventDefault(); applyFilters(); } },
    field('Search', 'f-search', searchWrap, 'filter-search'),
    field('Stage', 'f-stage', stageSel),
    field('Source', 'f-source', source, '', sourceList),
    field('Campaign', 'f-campaign', campaign, '', campaignList),
    field('From', 'f-from', from),
    field('To', 'f-to', to),
    field('Leads', 'f-quarantine', quarSel),
    field('Sort', 'f-sort', sortSel),
    h('div', { class: 'filter filter-buttons' }, clearBtn),
    dateError);

  let debounce;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilters, 350); });
  for (const el of [source, campaign]) el.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilters, 450); });
  for (const el of [stageSel, from, to, quarSel]) el.addEventListener('change', applyFilters);
  sortSel.addEventListener('change', () => setSort(sortSel.value));
  limitSel.addEventListener('change', () => { state.limit = Number(limitSel.value); syncHash(); reset(); });

  // ---- live banner, bulk bar, table, pager ----
  const summary = h('div', { class: 'summary', 'aria-live': 'polite', tabindex: '-1' });
  const liveBanner = h('div', { class: 'live-banner', role: 'status', hidden: true });
  const bulkBar = h('div', { class: 'bulk-bar', role: 'region', 'aria-label': 'Selected leads', hidden: true });
  const bulkResult = h('div', { class: 'bulk-result', role: 'status', hidden: true });
  const tableHost = h('div', { class: 'table-host' });
  const prevBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'prev-page', onclick: () => goPrev() }, icon('chevronLeft'), 'Previous');
  const nextBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'next-page', onclick: () => goNext() }, 'Next', icon('chevronRight'));
  const pageLabel = h('span', { class: 'page-label' });
  const pager = h('div', { class: 'pager' }, limitSel, h('div', { class: 'pager-buttons' }, prevBtn, pageLabel, nextBtn));

  root.append(filters, h('section', { class: 'card card-table', 'aria-label': 'Leads' },
    h('div', { class: 'table-toolbar' }, summary, liveBanner), bulkBar, bulkResult, tableHost, pager));

  loadStages().then((stages) => {
    state.stages = stages;
    for (const st of stages) stageSel.append(h('option', { value: st }, st));
    stageSel.value = state.filters.stage;
    if (state.filters.stage && !stages.includes(state.filters.stage)) {
      stageSel.append(h('option', { value: state.filters.stage }, state.filters.stage));
      stageSel.value = state.filters.stage;
    }
    renderBulkBar();
    if (state.rows.length) renderTable();
  }).catch(() => { /* the table shows its own error state */ });

  // ---- live updates: announce, never move rows under the user's cursor ----
  ctx.onLive((a, prev) => {
    const added = Number(a.total_leads) - Number(prev.total_leads);
    if (added > 0) state.fresh.added += added;
    state.fresh.changed = true;
    renderLiveBanner();
  });
  function renderLiveBanner() {
    const { added, changed } = state.fresh;
    if (!changed) { liveBanner.hidden = true; clear(liveBanner); return; }
    const label = added > 0 ? `${num(added)} new lead${added === 1 ? '' : 's'}` : 'Leads were updated';
    setContent(liveBanner, h('button', { class: 'btn btn-sm btn-live', type: 'button', 'data-action': 'show-new', onclick: () => {
      state.fresh = { added: 0, changed: false };
      renderLiveBanner();
      reset();
    } }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), `${label} — show`));
    liveBanner.hidden = false;
  }

  function readFilters() {
    return { stage: stageSel.value, search: search.value.trim(), source: source.value.trim(), campaign: campaign.value.trim(), from: from.value, to: to.value, quarantine: quarSel.value };
  }

  /** One inline message for a "From" after "To" range (updated in place, never stacked). */
  function dateRangeValid() {
    const bad = from.value && to.value && from.value > to.value;
    dateError.hidden = !bad;
    dateError.textContent = bad ? `“From” (${from.value}) must be on or before “To” (${to.value}).` : '';
    for (const el of [from, to]) { if (bad) el.setAttribute('aria-invalid', 'true'); else el.removeAttribute('aria-invalid'); }
    return !bad;
  }

  function applyFilters() {
    if (!dateRangeValid()) return;
    const f = readFilters();
    if (JSON.stringify(f) === JSON.stringify(state.filters) && (state.rows.length || state.loaded)) return;
    state.filters = f;
    state.selected.clear();
    syncHash();
    reset();
  }

  function syncHash() {
    const parts = currentParts();
    history.replaceState(null, '', parts[1] ? leadHash(parts[1]) : listHash());
  }

  function reset() {
    state.cursor = null; state.prev = []; state.page = 1;
    load();
  }

  function goNext() {
    if (!state.next) return;
    state.prev.push(state.cursor);
    state.cursor = state.next;
    state.page += 1;
    load();
  }

  function goPrev() {
    if (!state.prev.length) return;
    state.cursor = state.prev.pop();
    state.page -= 1;
    load();
  }

  /**
   * The filters chosen, each only when set, with a revenue order (which lists only the leads with orders): what
   * the listing and "Count all" both send.
   */
  function filterQuery() {
    const qy = {};
    for (const k of FILTER_KEYS) if (state.filters[k]) qy[k] = state.filters[k];
    if (REVENUE_SORTS[state.sort]) qy.sort = state.sort;
    return qy;
  }

  function query(extra = {}) {
    const qy = { limit: state.limit, ...filterQuery() };
    // Only once chosen: the server's default order is newest first.
    if (state.sort) qy.sort = state.sort;
    return { ...qy, ...extra };
  }

  /** "Count all": asks the server for the exact total of these filters (the listing's total is a lower bound). */
  function countAllButton() {
    const btn = h('button', { class: 'btn btn-secondary btn-sm btn-count-all', type: 'button', 'data-action': 'count-all' }, 'Count all');
    btn.addEventListener('click', async () => {
      const seq = state.seq;
      btn.disabled = true;
      btn.textContent = 'Counting…';
      try {
        const res = await api.countLeads(filterQuery());
        if (seq !== state.seq || !root.isConnected) return;
        state.total = res.total;
        state.totalExact = res.total_exact !== false;
        renderTable();
        // The button is gone once the total is exact: keep the keyboard where it was, on the summary.
        summary.focus();
      } catch (e) {
        if (seq !== state.seq || !root.isConnected) return;
        btn.disabled = false;
        btn.textContent = 'Count all';
        if (e.status !== 401) toast(`Counting failed: ${e.message}`, 'error');
      }
    });
    return btn;
  }

  async function load() {
    const seq = ++state.seq;
    ctx.busy();
    prevBtn.disabled = true; nextBtn.disabled = true;
    tableHost.setAttribute('aria-busy', 'true');
    if (!state.rows.length) setContent(tableHost, loading('Loading leads…'));
    else tableHost.classList.add('is-loading');
    try {
      let res = await api.leads(query({ cursor: state.cursor || undefined }));
      // A store that reads within a budget (DynamoDB) answers an empty page with a cursor when every match is
      // older than what it read: keep reading (bounded) rather than show "no leads" next to a Next button.
      for (let hops = 0; !(res.leads || []).length && res.next_cursor && hops < FOLLOW_EMPTY_PAGES; hops += 1) {
        if (seq !== state.seq || !root.isConnected) return;
        setContent(summary, 'Searching older leads…');
        res = await api.leads(query({ cursor: res.next_cursor }));
      }
      if (seq !== state.seq || !root.isConnected) return;
      state.rows = res.leads || [];
      state.next = res.next_cursor || null;
      state.total = typeof res.total === 'number' ? res.total : null;
      // total_exact false: counting stopped at the server's read budget and total is a lower bound ("1,000+").
      state.totalExact = res.total_exact !== false;
      state.loaded = true;
      state.fresh = { added: 0, changed: false };
      renderLiveBanner();
      renderTable();
    } catch (e) {
      if (seq !== state.seq || e.status === 401) return;
      state.rows = [];
      setContent(summary, '');
      const sortRejected = e.status === 400 && e.field === 'sort';
      setContent(tableHost, errorState(sortRejected ? new Error(`This server cannot sort yet: ${e.message}`) : e, load,
        sortRejected ? h('button', { class: 'btn btn-primary', type: 'button', 'data-action': 'default-sort', onclick: () => {
          state.sort = ''; sortSel.value = 'newest'; syncHash(); reset();
        } }, 'Use the default order') : null));
      prevBtn.disabled = !state.prev.length;
    } finally {
      if (seq === state.seq) {
        tableHost.classList.remove('is-loading');
        tableHost.removeAttribute('aria-busy');
        ctx.ready();
      }
    }
  }

  function visibleColumns() {
    return COLUMNS.filter((c) => state.columns.has(c.key));
  }

  /** Chooses the order; every order is the server's, so the listing reloads from its first page. */
  function setSort(next) {
    state.sort = next;
    sortSel.value = next || 'newest';
    syncHash();
    reset();
  }

  function renderTable() {
    const { stages } = state;
    const rows = state.rows;
    prevBtn.disabled = !state.prev.length;
    nextBtn.disabled = !state.next;
    pageLabel.textContent = `Page ${state.page}`;
    const start = (state.page - 1) * state.limit + 1;
    const filtered = FILTER_KEYS.some((k) => state.filters[k]);
    renderBulkBar();
    if (!rows.length) {
      const none = REVENUE_SORTS[state.sort] ? 'No leads with orders match' : filtered ? 'No leads match these filters' : 'No leads yet';
      setContent(summary, state.total === 0 || state.page === 1 ? none : 'No more leads');
      const byNewest = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'default-sort', onclick: () => setSort('') }, 'Show all leads, newest first');
      setContent(tableHost, REVENUE_SORTS[state.sort]
        ? empty(none, 'A revenue order lists only the leads with orders (sent with value and currency, or added in a lead).', byNewest)
        : filtered
        ? empty('No leads match these filters', 'Try a broader search or clear the filters.',
          h('button', { class: 'btn btn-secondary', type: 'button', onclick: () => clearBtn.click() }, 'Clear filters'))
        : empty('No leads yet', 'Leads appear here as soon as your landing pages post them.', h('a', { class: 'btn btn-primary', href: '#/docs' }, 'Set up the postback')));
      return;
    }
    setContent(summary,
      h('strong', {}, `${num(start)}–${num(start + rows.length - 1)}`),
      state.total !== null ? ` of ${num(Math.max(state.total, start + rows.length - 1))}${state.totalExact ? '' : '+'} leads` : ' leads',
      state.total !== null && !state.totalExact ? countAllButton() : null,
      filtered ? h('span', { class: 'badge' }, icon('filter'), 'filtered') : null,
      REVENUE_SORTS[state.sort] ? h('span', { class: 'badge badge-muted', 'data-revenue-sort': state.sort, title: 'Leads without orders are not in a revenue order' }, 'with orders, by revenue in the reporting currency') : null);

    const cols = visibleColumns();
    const allBox = h('input', { type: 'checkbox', class: 'check', 'data-action': 'select-page', 'aria-label': 'Select all leads on this page' });
    const onPage = rows.filter((l) => state.selected.has(l.id)).length;
    allBox.checked = onPage === rows.length;
    allBox.indeterminate = onPage > 0 && onPage < rows.length;
    allBox.addEventListener('change', () => {
      for (const l of rows) { if (allBox.checked) state.selected.set(l.id, l); else state.selected.delete(l.id); }
      renderTable();
      const again = tableHost.querySelector('[data-action=select-page]');
      if (again) again.focus();
    });
    const table = h('table', { class: 'table leads-table', 'data-columns': cols.map((c) => c.key).join(' ') },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'col-check' }, allBox),
        cols.map((c) => (c.key === 'revenue' ? revenueHead() : h('th', { scope: 'col', 'data-col': c.key }, c.label))),
        h('th', { scope: 'col', class: 'col-actions' }, 'Actions'))),
      h('tbody', {}, rows.map((lead) => row(lead, stages, cols))));
    setContent(tableHost, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Leads table' }, table));
  }

  /** The Revenue header: a sort button (highest first, then lowest, across pages), with aria-sort. */
  function revenueHead() {
    const dir = REVENUE_SORTS[state.sort];
    return h('th', { scope: 'col', 'data-col': 'revenue', class: 'num', 'aria-sort': dir ? (dir === 'asc' ? 'ascending' : 'descending') : 'none' },
      h('button', { class: 'sort-btn', type: 'button', 'data-action': 'sort-revenue', title: 'Sort the leads with orders by revenue', onclick: () => {
        setSort(state.sort === 'revenue' ? 'revenue_asc' : 'revenue');
        const again = tableHost.querySelector('[data-action=sort-revenue]');
        if (again) again.focus();
      } }, 'Revenue', h('span', { class: 'sort-icon', 'aria-hidden': 'true' }, dir ? (dir === 'asc' ? '▲' : '▼') : '↕'),
      h('span', { class: 'sr-only' }, ' (sorts the leads with orders)')));
  }

  function cell(c, lead, name) {
    const attrs = { 'data-label': c.label, 'data-col': c.key };
    if (c.key === 'name') {
      return h('td', { ...attrs, class: 'cell-name' },
        h('a', { class: 'link-btn', href: leadHash(lead.id), 'data-action': 'open-name' }, name),
        lead.quarantine ? quarantineBadge(lead) : null,
        lead.email && lead.email !== name ? h('div', { class: 'muted small cell-email', title: lead.email }, lead.email) : null);
    }
    if (c.key === 'stage') return h('td', { ...attrs, class: 'cell-stage' }, stageChip(lead.stage, state.stages));
    if (c.get) {
      const v = c.get(lead);
      return h('td', { ...attrs, class: v.cls, title: v.title }, v.value);
    }
    return h('td', { ...attrs, class: c.cls || '', title: c.title ? c.title(lead) : undefined }, c.render(lead));
  }

  function row(lead, stages, cols) {
    const name = leadName(lead);
    const checked = state.selected.has(lead.id);
    const box = h('input', { type: 'checkbox', class: 'check', 'data-action': 'select', checked, 'aria-label': `Select ${name}` });
    box.addEventListener('change', () => {
      if (box.checked) state.selected.set(lead.id, lead); else state.selected.delete(lead.id);
      tr.classList.toggle('is-selected', box.checked);
      const all = tableHost.querySelector('[data-action=select-page]');
      const n = state.rows.filter((l) => state.selected.has(l.id)).length;
      if (all) { all.checked = n === state.rows.length; all.indeterminate = n > 0 && n < state.rows.length; }
      renderBulkBar();
    });
    const tr = h('tr', { 'data-lead-id': lead.id, class: checked ? 'is-selected' : '' },
      h('td', { class: 'col-check' }, box),
      cols.map((c) => cell(c, lead, name)),
      h('td', { class: 'col-actions', 'data-label': 'Actions' },
        h('div', { class: 'row-actions' },
          h('button', { class: 'icon-btn', type: 'button', title: 'Open lead', 'aria-label': `Open ${name}`, 'data-action': 'open', onclick: () => open(lead) }, icon('eye')),
          stageSelect(lead, stages, async (toStage) => {
            const updated = await moveLead(lead, toStage, stages);
            if (updated) afterChange();
          }, { compact: true, placeholder: 'Move…' }),
          lead.quarantine ? h('button', { class: 'btn btn-secondary btn-sm', type: 'button', title: 'Release from quarantine', 'aria-label': `Release ${name} from quarantine`, 'data-action': 'release', onclick: async () => {
            if (await releaseLead(lead)) { state.selected.delete(lead.id); afterChange(); }
          } }, 'Release') : null,
          h('button', { class: 'icon-btn icon-btn-danger', type: 'button', title: 'Delete lead', 'aria-label': `Delete ${name}`, 'data-action': 'delete', onclick: async () => {
            if (await deleteLead(lead)) { state.selected.delete(lead.id); afterChange(); }
          } }, icon('trash')))));
    return tr;
  }

  function afterChange() {
    // Reload the current page so filters (e.g. by stage) stay truthful.
    load();
  }

  // ---- the lead drawer, driven by the URL ----
  let current = null; // {id, d, opener}
  function open(lead) {
    const target = leadHash(lead.id);
    if (location.hash === target) showLead(lead.id); else location.hash = target;
  }
  function openerFor(id) {
    return tableHost.querySelector(`tr[data-lead-id="${CSS.escape(id)}"] [data-action=open]`) || search;
  }
  function showLead(id) {
    if (current && current.id === id && current.d.isOpen()) return;
    let opener = document.activeElement;
    if (current && current.d.isOpen()) {
      opener = current.opener;
      current.d.close({ restoreFocus: false });
    }
    if (!opener || opener === document.body) opener = null;
    const me = { id, opener, d: null };
    me.d = openLead(id, {
      opener,
      returnFocus: () => openerFor(id),
      onChanged: afterChange,
      onDeleted: () => { state.selected.delete(id); afterChange(); },
      onClose: () => {
        if (current === me) current = null;
        const parts = currentParts();
        if (parts[0] === 'leads' && parts[1] === id) history.replaceState(null, '', listHash());
      },
    });
    current = me;
  }
  function closeLead() {
    if (current && current.d.isOpen()) current.d.close();
    current = null;
  }

  // ---- column chooser ----
  function buildColumnChooser() {
    const boxes = COLUMNS.filter((c) => !c.fixed).map((c) => {
      const box = h('input', { type: 'checkbox', class: 'check', value: c.key, checked: state.columns.has(c.key), 'data-col': c.key });
      box.addEventListener('change', () => {
        if (box.checked) state.columns.add(c.key); else state.columns.delete(c.key);
        saveColumnChoice(state.columns);
        if (state.rows.length) renderTable();
      });
      return h('label', { class: 'check-row' }, box, h('span', {}, c.label));
    });
    const resetBtn = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-action': 'reset-columns', onclick: () => {
      state.columns = new Set(COLUMNS.filter((c) => c.on).map((c) => c.key));
      try { localStorage.removeItem(COLUMNS_KEY); } catch { /* ignore */ }
      for (const b of colsPop.querySelectorAll('input[type=checkbox]')) b.checked = state.columns.has(b.value);
      if (state.rows.length) renderTable();
    } }, 'Reset to default');
    setContent(colsPop, h('fieldset', { class: 'popover-fieldset' }, h('legend', { class: 'popover-title' }, 'Show columns'), boxes), resetBtn);
    const setOpen = (on) => {
      colsPop.hidden = !on;
      colsBtn.setAttribute('aria-expanded', String(on));
      if (on) { const first = colsPop.querySelector('input'); if (first) first.focus(); }
    };
    colsBtn.addEventListener('click', () => setOpen(colsPop.hidden));
    colsPop.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); setOpen(false); colsBtn.focus(); } });
    const outside = (e) => {
      if (!colsWrap.isConnected) { document.removeEventListener('click', outside, true); return; }
      if (!colsPop.hidden && !colsWrap.contains(e.target)) setOpen(false);
    };
    document.addEventListener('click', outside, true);
  }

  // ---- bulk actions on the selection ----
  function renderBulkBar() {
    const n = state.selected.size;
    if (!n) { bulkBar.hidden = true; clear(bulkBar); return; }
    const moveSel = h('select', { class: 'select select-sm', 'aria-label': 'Stage to move the selected leads to', 'data-action': 'bulk-stage' },
      h('option', { value: '' }, 'Move to stage…'), state.stages.map((st) => h('option', { value: st }, st)));
    const moveBtn = h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'bulk-move', onclick: () => {
      if (!moveSel.value) { moveSel.focus(); return; }
      bulkMove(moveSel.value);
    } }, icon('move'), 'Move');
    setContent(bulkBar,
      h('strong', { class: 'bulk-count' }, `${num(n)} selected`),
      h('div', { class: 'bulk-actions' },
        moveSel, moveBtn,
        [...state.selected.values()].some((l) => l.quarantine)
          ? h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'bulk-release', onclick: bulkRelease }, 'Release')
          : null,
        h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'bulk-export', onclick: exportSelected }, icon('download'), 'Export selected'),
        h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', 'data-action': 'bulk-delete', onclick: bulkDelete }, icon('trash'), 'Delete'),
        h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-action': 'clear-selection', onclick: () => {
          state.selected.clear();
          renderTable();
        } }, 'Clear selection')));
    bulkBar.hidden = false;
  }

  function setBulkBusy(on, label) {
    for (const b of bulkBar.querySelectorAll('button, select')) b.disabled = on;
    if (on) showResult(label, 'info');
  }
  function showResult(message, kind = 'success', details = []) {
    setContent(bulkResult, h('div', { class: `bulk-result-text bulk-${kind}` }, message),
      details.length ? h('ul', { class: 'bulk-failures' }, details.map((d) => h('li', {}, d))) : null,
      kind === 'info' ? null : h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Dismiss', onclick: () => { bulkResult.hidden = true; } }, icon('close')));
    bulkResult.dataset.kind = kind;
    bulkResult.hidden = false;
  }
  const failureLines = (results) => results.filter((r) => !r.ok).map((r) => `${leadName(r.item)}: ${r.error.message}`);

  async function bulkMove(to) {
    const picked = [...state.selected.values()];
    const leads = picked.filter((l) => l.stage !== to);
    const already = picked.length - leads.length;
    if (!leads.length) { showResult(`All ${num(picked.length)} selected leads are already in ${to}.`, 'info-done'); return; }
    const back = leads.filter((l) => isBackward(l.stage, to, state.stages)).length;
    const ok = await confirmDialog({
      title: `Move ${num(leads.length)} lead${leads.length === 1 ? '' : 's'} to ${to}?`,
      body: h('div', {},
        h('p', {}, `${num(leads.length)} selected lead${leads.length === 1 ? '' : 's'} will move to `, stageChip(to, state.stages), '.'),
        back ? h('p', {}, h('strong', {}, `${num(back)} of them will move backwards.`)) : null,
        already ? h('p', { class: 'muted' }, `${num(already)} already in ${to} will be left as they are.`) : null),
      confirmLabel: `Move ${num(leads.length)}`,
    });
    if (!ok) return;
    setBulkBusy(true, `Moving 0 of ${num(leads.length)}…`);
    const results = await mapBounded(leads, BULK_CONCURRENCY, (l) => api.setStage(l.id, to),
      (done, total) => showResult(`Moving ${num(done)} of ${num(total)}…`, 'info'));
    setBulkBusy(false);
    const moved = results.filter((r) => r.ok);
    for (const r of moved) state.selected.delete(r.item.id);
    for (const l of picked) if (l.stage === to) state.selected.delete(l.id); // already there: done too
    const failed = results.length - moved.length;
    showResult(`Moved ${num(moved.length)} lead${moved.length === 1 ? '' : 's'} to ${to}.`
      + `${already ? ` ${num(already)} already there.` : ''}${failed ? ` ${num(failed)} failed (still selected).` : ''}`,
    failed ? 'error' : 'success', failureLines(results));
    noteLocalChange();
    load();
  }

  async function bulkRelease() {
    const leads = [...state.selected.values()].filter((l) => l.quarantine);
    const ok = await confirmDialog({
      title: `Release ${num(leads.length)} lead${leads.length === 1 ? '' : 's'} from quarantine?`,
      body: h('div', {},
        h('p', {}, `${num(leads.length)} quarantined lead${leads.length === 1 ? '' : 's'} will count in analytics and show on the board again.`),
        h('p', { class: 'muted' }, 'Only release leads you believe are real people.')),
      confirmLabel: `Release ${num(leads.length)}`,
    });
    if (!ok) return;
    setBulkBusy(true, `Releasing 0 of ${num(leads.length)}…`);
    const results = await mapBounded(leads, BULK_CONCURRENCY, (l) => api.releaseLead(l.id),
      (done, total) => showResult(`Releasing ${num(done)} of ${num(total)}…`, 'info'));
    setBulkBusy(false);
    const released = results.filter((r) => r.ok);
    for (const r of released) state.selected.delete(r.item.id);
    const failed = results.length - released.length;
    showResult(`Released ${num(released.length)} lead${released.length === 1 ? '' : 's'} from quarantine.${failed ? ` ${num(failed)} failed (still selected).` : ''}`,
      failed ? 'error' : 'success', failureLines(results));
    noteLocalChange();
    load();
  }

  async function bulkDelete() {
    const leads = [...state.selected.values()];
    const names = leads.slice(0, 5).map((l) => leadName(l));
    const ok = await confirmDialog({
      title: `Delete ${num(leads.length)} lead${leads.length === 1 ? '' : 's'}?`,
      body: h('div', {},
        h('p', {}, 'These leads and their stage history will be permanently deleted:'),
        h('ul', { class: 'dialog-list' }, names.map((n) => h('li', {}, n)), leads.length > 5 ? h('li', { class: 'muted' }, `and ${num(leads.length - 5)} more`) : null),
        h('p', { class: 'muted' }, 'This cannot be undone.')),
      confirmLabel: `Delete ${num(leads.length)} lead${leads.length === 1 ? '' : 's'}`,
      danger: true,
    });
    if (!ok) return;
    setBulkBusy(true, `Deleting 0 of ${num(leads.length)}…`);
    const results = await mapBounded(leads, BULK_CONCURRENCY, async (l) => {
      try { await api.deleteLead(l.id); } catch (e) { if (e.status !== 404) throw e; } // already gone = done
    }, (done, total) => showResult(`Deleting ${num(done)} of ${num(total)}…`, 'info'));
    setBulkBusy(false);
    const deleted = results.filter((r) => r.ok);
    for (const r of deleted) state.selected.delete(r.item.id);
    const failed = results.length - deleted.length;
    showResult(`Deleted ${num(deleted.length)} lead${deleted.length === 1 ? '' : 's'}.${failed ? ` ${num(failed)} failed (still selected).` : ''}`,
      failed ? 'error' : 'success', failureLines(results));
    noteLocalChange();
    // Deleting the whole page: step back if this page no longer exists.
    if (state.page > 1 && deleted.length >= state.rows.length) goPrev(); else load();
  }

  function exportSelected() {
    const leads = [...state.selected.values()];
    downloadText(exportFileName(state.filters, { selected: leads.length, sort: state.sort }), toCsv(leads, csvColumns(state.stages)));
    showResult(`Exported ${num(leads.length)} selected lead${leads.length === 1 ? '' : 's'}.`, 'success');
  }

  async function exportCsv() {
    if (exportBtn.disabled) return;
    exportBtn.disabled = true;
    const label = exportBtn.querySelector('.btn-label');
    const all = [];
    try {
      const stages = state.stages.length ? state.stages : await loadStages();
      let cursor;
      do {
        label.textContent = all.length ? `Exporting… ${num(all.length)}` : 'Exporting…';
        const res = await api.exportLeads({ ...query({ limit: EXPORT_PAGE }), cursor });
        all.push(...(res.leads || []));
        cursor = res.next_cursor || undefined;
      } while (cursor);
      downloadText(exportFileName(state.filters, { sort: state.sort }), toCsv(all, csvColumns(stages)));
      toast(`Exported ${num(all.length)} lead${all.length === 1 ? '' : 's'}`, 'success');
    } catch (e) {
      if (e.status !== 401) toast(`Export failed: ${e.message}`, 'error');
    } finally {
      label.textContent = 'Export CSV';
      exportBtn.disabled = false;
    }
  }

  if (params.leadId) showLead(params.leadId);
  load();

  return {
    /** Same screen, new URL: handle a lead id change in place; anything else re-renders. */
    update({ parts, query: nq }) {
      const next = parseState(nq);
      if (stateQuery(next) !== stateQuery(state)) return false;
      if (parts[1]) showLead(parts[1]); else closeLead();
      return true;
    },
  };
}
