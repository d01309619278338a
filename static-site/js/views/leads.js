// All Leads: filterable, cursor-paginated table; one page at a time.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { leadName, date, time, num, display } from '../format.js';
import { loading, errorState, empty, setContent, stageChip, toast } from '../ui.js';
import { moveLead, deleteLead, stageSelect } from '../actions.js';
import { toCsv, downloadText } from '../csv.js';
import { openLead } from './lead.js';

const FILTER_KEYS = ['stage', 'search', 'source', 'campaign', 'from', 'to'];
const PAGE_SIZES = [10, 25, 50, 100];
const EXPORT_PAGE = 200;

export function renderLeads(root, ctx, params = {}) {
  ctx.setTitle('All Leads', 'Search, filter and manage every lead');
  const q = params.query || new URLSearchParams();
  const state = {
    filters: Object.fromEntries(FILTER_KEYS.map((k) => [k, q.get(k) || ''])),
    limit: PAGE_SIZES.includes(Number(q.get('limit'))) ? Number(q.get('limit')) : 25,
    cursor: null, // cursor of the page being shown (null = first page)
    prev: [], // stack of cursors of earlier pages
    page: 1,
    next: null,
    total: null,
    rows: [],
    stages: [],
    seq: 0,
  };

  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'export-csv', onclick: () => exportCsv() },
    icon('download'), h('span', { class: 'btn-label' }, 'Export CSV'));
  ctx.setActions(exportBtn);

  // ---- filters ----
  const stageSel = h('select', { class: 'select', name: 'stage', 'aria-label': 'Stage' }, h('option', { value: '' }, 'All stages'));
  const search = h('input', { class: 'input', type: 'search', name: 'search', placeholder: 'Name, email, phone…', 'aria-label': 'Search', value: state.filters.search });
  const source = h('input', { class: 'input', type: 'text', name: 'source', placeholder: 'Any source', 'aria-label': 'Source', value: state.filters.source });
  const campaign = h('input', { class: 'input', type: 'text', name: 'campaign', placeholder: 'Any campaign', 'aria-label': 'Campaign', value: state.filters.campaign });
  const from = h('input', { class: 'input', type: 'date', name: 'from', 'aria-label': 'From date', value: state.filters.from });
  const to = h('input', { class: 'input', type: 'date', name: 'to', 'aria-label': 'To date', value: state.filters.to });
  const limitSel = h('select', { class: 'select select-sm', name: 'limit', 'aria-label': 'Rows per page' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.limit }, `${n} per page`)));
  const clearBtn = h('button', { class: 'btn btn-ghost', type: 'button', 'data-action': 'clear-filters', onclick: () => {
    for (const el of [stageSel, search, source, campaign, from, to]) el.value = '';
    applyFilters();
  } }, 'Clear');

  const field = (label, control, cls = '') => h('label', { class: `filter ${cls}` }, h('span', { class: 'filter-label' }, label), control);
  const searchWrap = h('div', { class: 'input-icon' }, icon('search'), search);
  const filters = h('form', { class: 'filters card', role: 'search', onsubmit: (e) => { e.preventDefault(); applyFilters(); } },
    field('Search', searchWrap, 'filter-search'),
    field('Stage', stageSel),
    field('Source', source),
    field('Campaign', campaign),
    field('From', from),
    field('To', to),
    h('div', { class: 'filter filter-buttons' }, clearBtn));

  let debounce;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilters, 350); });
  for (const el of [source, campaign]) el.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilters, 450); });
  for (const el of [stageSel, from, to]) el.addEventListener('change', applyFilters);
  limitSel.addEventListener('change', () => { state.limit = Number(limitSel.value); syncHash(); reset(); });

  // ---- table + pager ----
  const summary = h('div', { class: 'summary', 'aria-live': 'polite' });
  const tableHost = h('div', { class: 'table-host' });
  const prevBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'prev-page', onclick: () => goPrev() }, icon('chevronLeft'), 'Previous');
  const nextBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'next-page', onclick: () => goNext() }, 'Next', icon('chevronRight'));
  const pageLabel = h('span', { class: 'page-label' });
  const pager = h('div', { class: 'pager' }, limitSel, h('div', { class: 'pager-buttons' }, prevBtn, pageLabel, nextBtn));

  root.append(filters, h('section', { class: 'card card-table' }, h('div', { class: 'table-toolbar' }, summary), tableHost, pager));

  loadStages().then((stages) => {
    state.stages = stages;
    for (const st of stages) stageSel.append(h('option', { value: st }, st));
    stageSel.value = state.filters.stage;
    if (state.filters.stage && !stages.includes(state.filters.stage)) {
      stageSel.append(h('option', { value: state.filters.stage }, state.filters.stage));
      stageSel.value = state.filters.stage;
    }
    if (state.rows.length) renderTable();
  }).catch(() => { /* the table shows its own error state */ });

  function readFilters() {
    return { stage: stageSel.value, search: search.value.trim(), source: source.value.trim(), campaign: campaign.value.trim(), from: from.value, to: to.value };
  }

  function applyFilters() {
    const f = readFilters();
    if (from.value && to.value && from.value > to.value) {
      toast('“From” must be on or before “To”', 'error');
      return;
    }
    if (JSON.stringify(f) === JSON.stringify(state.filters) && state.rows.length) return;
    state.filters = f;
    syncHash();
    reset();
  }

  function syncHash() {
    const p = new URLSearchParams();
    for (const k of FILTER_KEYS) if (state.filters[k]) p.set(k, state.filters[k]);
    if (state.limit !== 25) p.set('limit', String(state.limit));
    const qs = p.toString();
    history.replaceState(null, '', `#/leads${qs ? `?${qs}` : ''}`);
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

  function query(extra = {}) {
    const qy = { limit: state.limit };
    for (const k of FILTER_KEYS) if (state.filters[k]) qy[k] = state.filters[k];
    return { ...qy, ...extra };
  }

  async function load() {
    const seq = ++state.seq;
    prevBtn.disabled = true; nextBtn.disabled = true;
    tableHost.setAttribute('aria-busy', 'true');
    if (!state.rows.length) setContent(tableHost, loading('Loading leads…'));
    else tableHost.classList.add('is-loading');
    try {
      const res = await api.leads(query({ cursor: state.cursor || undefined }));
      if (seq !== state.seq || !root.isConnected) return;
      state.rows = res.leads || [];
      state.next = res.next_cursor || null;
      state.total = typeof res.total === 'number' ? res.total : null;
      renderTable();
    } catch (e) {
      if (seq !== state.seq || e.status === 401) return;
      state.rows = [];
      setContent(summary, '');
      setContent(tableHost, errorState(e, load));
      prevBtn.disabled = !state.prev.length;
    } finally {
      if (seq === state.seq) { tableHost.classList.remove('is-loading'); tableHost.removeAttribute('aria-busy'); }
    }
  }

  function renderTable() {
    const { rows, stages } = state;
    prevBtn.disabled = !state.prev.length;
    nextBtn.disabled = !state.next;
    pageLabel.textContent = `Page ${state.page}`;
    const start = (state.page - 1) * state.limit + 1;
    const filtered = FILTER_KEYS.some((k) => state.filters[k]);
    if (!rows.length) {
      setContent(summary, state.total === 0 || state.page === 1 ? (filtered ? 'No leads match these filters' : 'No leads yet') : 'No more leads');
      setContent(tableHost, filtered
        ? empty('No leads match these filters', 'Try a broader search or clear the filters.',
          h('button', { class: 'btn btn-secondary', type: 'button', onclick: () => clearBtn.click() }, 'Clear filters'))
        : empty('No leads yet', 'Leads appear here as soon as your landing pages post them.', h('a', { class: 'btn btn-primary', href: '#/docs' }, 'Set up the postback')));
      return;
    }
    setContent(summary,
      h('strong', {}, `${num(start)}–${num(start + rows.length - 1)}`),
      state.total !== null ? ` of ${num(state.total)} leads` : ' leads',
      filtered ? h('span', { class: 'badge' }, icon('filter'), 'filtered') : null);

    const head = ['Date', 'Name / Email', 'Phone', 'Stage', 'Source', 'Campaign', 'Form %', 'IP', 'Device', 'Actions'];
    const table = h('table', { class: 'table leads-table' },
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', class: c === 'Actions' ? 'col-actions' : '' }, c)))),
      h('tbody', {}, rows.map((lead) => row(lead, stages))));
    setContent(tableHost, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Leads table' }, table));
  }

  function row(lead, stages) {
    const name = leadName(lead);
    const pctv = lead.form_completion_percent;
    const hasPct = pctv !== null && pctv !== undefined && Number.isFinite(Number(pctv));
    const fill = h('span', { class: 'progress-fill' });
    fill.style.width = `${hasPct ? Math.max(0, Math.min(100, Number(pctv))) : 0}%`;
    return h('tr', { 'data-lead-id': lead.id },
      h('td', { class: 'cell-date', 'data-label': 'Date', title: lead.created_at }, h('div', {}, date(lead.created_at)), h('div', { class: 'muted small' }, time(lead.created_at))),
      h('td', { class: 'cell-name', 'data-label': 'Name / Email' },
        h('button', { class: 'link-btn', type: 'button', onclick: () => open(lead) }, name),
        lead.email && lead.email !== name ? h('div', { class: 'muted small cell-email', title: lead.email }, lead.email) : null),
      h('td', { class: 'cell-text', 'data-label': 'Phone' }, display(lead.phone)),
      h('td', { 'data-label': 'Stage' }, stageChip(lead.stage, stages)),
      h('td', { class: 'cell-text', 'data-label': 'Source', title: display(lead.source) }, display(lead.source)),
      h('td', { class: 'cell-campaign', 'data-label': 'Campaign' }, display(lead.campaign)),
      h('td', { 'data-label': 'Form %' }, hasPct
        ? h('div', { class: 'mini-progress' }, h('span', { class: 'progress progress-sm' }, fill), h('span', {}, `${Math.round(Number(pctv))}%`))
        : '—'),
      h('td', { class: 'mono small cell-text', 'data-label': 'IP' }, display(lead.ip_address)),
      h('td', { class: 'cell-text', 'data-label': 'Device' }, display(lead.device_type)),
      h('td', { class: 'col-actions', 'data-label': 'Actions' },
        h('div', { class: 'row-actions' },
          h('button', { class: 'icon-btn', type: 'button', title: 'Open lead', 'aria-label': `Open ${name}`, 'data-action': 'open', onclick: () => open(lead) }, icon('eye')),
          stageSelect(lead, stages, async (toStage) => {
            const updated = await moveLead(lead, toStage, stages);
            if (updated) afterChange();
          }, { compact: true, placeholder: 'Move…' }),
          h('button', { class: 'icon-btn icon-btn-danger', type: 'button', title: 'Delete lead', 'aria-label': `Delete ${name}`, 'data-action': 'delete', onclick: async () => {
            if (await deleteLead(lead)) afterChange();
          } }, icon('trash')))));
  }

  function afterChange() {
    // Reload the current page so filters (e.g. by stage) stay truthful.
    load();
  }

  function open(lead) {
    openLead(lead.id, { onChanged: afterChange, onDeleted: afterChange });
  }

  async function exportCsv() {
    if (exportBtn.disabled) return;
    exportBtn.disabled = true;
    const label = exportBtn.querySelector('.btn-label');
    const all = [];
    try {
      let cursor;
      do {
        label.textContent = all.length ? `Exporting… ${num(all.length)}` : 'Exporting…';
        const res = await api.leads({ ...query({ limit: EXPORT_PAGE }), cursor });
        all.push(...(res.leads || []));
        cursor = res.next_cursor || undefined;
      } while (cursor);
      const stamp = new Date().toISOString().slice(0, 10);
      downloadText(`leadpipe-leads-${stamp}.csv`, toCsv(all));
      toast(`Exported ${num(all.length)} lead${all.length === 1 ? '' : 's'}`, 'success');
    } catch (e) {
      if (e.status !== 401) toast(`Export failed: ${e.message}`, 'error');
    } finally {
      label.textContent = 'Export CSV';
      exportBtn.disabled = false;
    }
  }

  if (params.leadId) {
    openLead(params.leadId, {
      onChanged: afterChange,
      onDeleted: afterChange,
      onClose: () => { if (location.hash.startsWith(`#/leads/`)) history.replaceState(null, '', '#/leads'); },
    });
  }
  load();
}
