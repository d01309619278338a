// Campaign performance: GET /api/analytics/breakdown as a sortable table (any column, keyboard, aria-sort) by
// source, campaign, domain or device at first or latest touch, for the range in the URL, exportable to CSV.
// Its own screen: the table is wide (four figures per stage) and has its own controls, so the Overview stays a
// glance; the date range is shared through the URL and the nav.
import { h, icon } from '../dom.js';
import { api, reportingZone } from '../api.js';
import { num, pct, duration, dayRange } from '../format.js';
import { loading, errorState, empty, setContent, toast } from '../ui.js';
import { downloadText } from '../csv.js';
import { todayIn, sortRows } from '../range.js';
import { DIMENSIONS, TOUCHES, METRICS, breakdownColumns, defaultDir, pinOther, breakdownCsv, breakdownFileName } from '../breakdown.js';
import { rangeFromQuery, rangePicker, reportQuery } from '../report-ui.js';
import { leadsLink, AGGREGATES } from './overview.js';

export function parseCampaignState(q) {
  const by = DIMENSIONS.some((d) => d.id === q.get('by')) ? q.get('by') : 'campaign';
  const touch = TOUCHES.some((t) => t.id === q.get('touch')) ? q.get('touch') : 'first';
  const sort = q.get('sort') || 'leads';
  const dir = ['asc', 'desc'].includes(q.get('dir')) ? q.get('dir') : null;
  return { by, touch, sort, dir };
}

export function renderCampaigns(root, ctx, params = {}) {
  ctx.setTitle('Campaigns', 'Leads, conversion and time to each stage by campaign, source, domain or device');
  const q = params.query || new URLSearchParams();
  const state = { ...parseCampaignState(q), data: null };
  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'export-breakdown', 'aria-label': 'Export CSV', onclick: () => exportCsv(), disabled: true },
    icon('download'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Export CSV'));
  ctx.setActions(exportBtn);

  const bySel = h('select', { class: 'select', id: 'c-by', name: 'by' },
    DIMENSIONS.map((d) => h('option', { value: d.id, selected: d.id === state.by }, d.label)));
  const touchRadios = TOUCHES.map((t) => h('label', { class: 'seg-option' },
    h('input', { type: 'radio', name: 'touch', value: t.id, checked: t.id === state.touch, class: 'seg-input' }),
    h('span', {}, t.label)));
  const controls = h('div', { class: 'report-controls card' },
    h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: 'c-by' }, 'Break down by'), bySel),
    h('fieldset', { class: 'filter seg' }, h('legend', { class: 'filter-label' }, 'Attribution'), h('div', { class: 'seg-options' }, touchRadios)));
  bySel.addEventListener('change', () => { state.by = bySel.value; sync(); load(); });
  for (const l of touchRadios) {
    const r = l.querySelector('input');
    r.addEventListener('change', () => { if (r.checked) { state.touch = r.value; sync(); load(); } });
  }

  const pickerHost = h('div', { class: 'range-host' });
  const sortStatus = h('p', { class: 'sr-only', role: 'status', id: 'sort-status' });
  const summary = h('div', { class: 'summary' });
  const tableHost = h('div', { class: 'table-host' });
  const note = h('p', { class: 'footnote table-note' });
  root.append(pickerHost, controls,
    h('section', { class: 'card card-table', 'aria-labelledby': 'c-title' },
      h('div', { class: 'table-toolbar' }, h('h2', { class: 'table-title', id: 'c-title' }, 'Performance'), summary),
      tableHost, note),
    sortStatus);

  let spec = null;
  let range = null;
  let picker = null;
  let seq = 0;

  function query() {
    const cols = state.data ? breakdownColumns(state.data.stages) : null;
    const col = cols && cols.find((c) => c.key === state.sort);
    const dirDefault = col ? defaultDir(col) : 'desc';
    return reportQuery(spec, [['by', state.by === 'campaign' ? '' : state.by], ['touch', state.touch === 'first' ? '' : state.touch],
      ['sort', state.sort === 'leads' ? '' : state.sort], ['dir', state.dir && state.dir !== dirDefault ? state.dir : '']]);
  }
  function sync() {
    const qs = query();
    history.replaceState(null, '', `#/campaigns${qs ? `?${qs}` : ''}`);
    ctx.shareRange(reportQuery(spec));
  }

  async function load({ quiet = false } = {}) {
    const mine = ++seq;
    ctx.busy();
    exportBtn.disabled = true;
    if (!quiet || !state.data) setContent(tableHost, loading('Loading performance…'));
    try {
      const zone = await reportingZone();
      const today = todayIn(zone);
      if (!spec) {
        const r = rangeFromQuery(q, today);
        spec = r.spec;
        picker = rangePicker({ id: 'c', spec, range: r.range, zone, error: r.error, onChange: (next) => { spec = next; sync(); load(); } });
        setContent(pickerHost, picker.el);
        ctx.shareRange(reportQuery(spec));
      }
      range = rangeFromQuery(new URLSearchParams(reportQuery(spec)), today).range;
      const data = await api.breakdown({ by: state.by, touch: state.touch, from: range.from, to: range.to });
      if (!root.isConnected || mine !== seq) return;
      state.data = data;
      picker.describe({ from: data.from, to: data.to, days: range.days }, null, zone);
      render();
    } catch (e) {
      if (e.status === 401 || mine !== seq) return;
      state.data = null;
      setContent(summary, '');
      setContent(tableHost, errorState(e, () => load()));
    }
    if (mine === seq) ctx.ready();
  }

  function render() {
    const { data } = state;
    const stages = Array.isArray(data.stages) ? data.stages : [];
    const cols = breakdownColumns(stages);
    let col = cols.find((c) => c.key === state.sort);
    if (!col) { state.sort = 'leads'; col = cols[1]; }
    const dir = state.dir || defaultDir(col);
    const rows = sortRows(data.rows || [], col.get, dir, pinOther);
    state.sorted = rows;
    const dim = DIMENSIONS.find((d) => d.id === state.by);
    const touch = TOUCHES.find((t) => t.id === state.touch);
    const total = rows.reduce((a, r) => a + (Number(r.leads) || 0), 0);
    setContent(summary, `${num(rows.length)} ${dim.label.toLowerCase()} value${rows.length === 1 ? '' : 's'} · ${num(total)} leads created ${dayRange(data.from, data.to)} · ${touch.label.toLowerCase()}`);
    exportBtn.disabled = !rows.length;
    if (!rows.length) {
      setContent(tableHost, empty('No leads in this range', 'Pick a longer range, or check back once postbacks arrive.'));
      setContent(note, '');
      return;
    }
    const sortBtn = (c, text) => h('button', {
      class: 'sort-btn', type: 'button', 'data-sort': c.key,
      onclick: () => {
        if (state.sort === c.key) state.dir = (state.dir || defaultDir(c)) === 'asc' ? 'desc' : 'asc';
        else { state.sort = c.key; state.dir = null; }
        sync();
        render();
        const again = tableHost.querySelector(`[data-sort="${CSS.escape(c.key)}"]`);
        if (again) again.focus();
        const d = state.dir || defaultDir(c);
        sortStatus.textContent = `Sorted by ${c.stage ? `${c.stage} ${METRICS.find((m) => m.id === c.metric).short}` : c.label.toLowerCase()}, ${d === 'asc' ? 'ascending' : 'descending'}.`;
      },
    }, text, h('span', { class: 'sort-icon', 'aria-hidden': 'true' }, state.sort === c.key ? (dir === 'asc' ? '▲' : '▼') : '↕'));
    const ariaSort = (c) => (state.sort === c.key ? (dir === 'asc' ? 'ascending' : 'descending') : 'none');
    const later = stages.slice(1);
    const head1 = h('tr', {},
      h('th', { scope: 'col', rowspan: 2, class: 'col-value', 'aria-sort': ariaSort(cols[0]), 'data-col': 'value' }, sortBtn(cols[0], dim.label)),
      h('th', { scope: 'col', rowspan: 2, class: 'num', 'aria-sort': ariaSort(cols[1]), 'data-col': 'leads' }, sortBtn(cols[1], 'Leads')),
      later.map((st) => h('th', { scope: 'colgroup', colspan: 4, class: 'col-stage' }, st)));
    const head2 = h('tr', {}, cols.slice(2).map((c) => h('th', { scope: 'col', class: 'num', 'aria-sort': ariaSort(c), 'data-col': c.key },
      sortBtn(c, [c.label, h('span', { class: 'sr-only' }, ` (${c.stage}${c.metric === 'step' ? `, from ${c.from}` : ''})`)]))));
    const cell = (c, r) => {
      const v = c.get(r);
      if (c.kind === 'count') return num(v);
      if (c.kind === 'ratio') return pct(v);
      return duration(v);
    };
    const valueCell = (r) => {
      if (!dim.filter || AGGREGATES.has(r.value)) return h('span', { class: 'value-text' }, r.value);
      return h('a', { class: 'link-btn value-link', href: leadsLink({ [dim.filter]: r.value }, data), 'data-action': 'open-value', title: `List the leads of ${r.value}` }, r.value);
    };
    const table = h('table', { class: 'table report-table', 'data-by': data.by || state.by, 'data-touch': data.touch || state.touch },
      h('caption', { class: 'sr-only' }, `Performance by ${dim.label.toLowerCase()}, ${touch.label.toLowerCase()}, leads created ${dayRange(data.from, data.to)}. Column headers are sort buttons.`),
      h('colgroup', {}, h('col', {}), h('col', {}), later.map(() => h('col', { span: 4 }))),
      h('thead', {}, head1, head2),
      h('tbody', {}, rows.map((r) => h('tr', { 'data-value': r.value },
        h('th', { scope: 'row', class: 'col-value' }, valueCell(r)),
        cols.slice(1).map((c) => h('td', { class: `num${c.metric ? ` m-${c.metric}` : ''}`, 'data-col': c.key }, cell(c, r)))))));
    setContent(tableHost, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `Performance by ${dim.label.toLowerCase()} (scrolls sideways)` }, table));
    setContent(note,
      'Step % is the share of the previous stage that reached the stage; “Of leads %” the share of all leads; avg time is from lead creation. “(other)” sums the values past the top 25 and always stays last.',
      dim.filter ? ` Selecting a ${dim.label.toLowerCase()} lists its leads created in the range in All Leads${state.touch === 'first' ? ', which matches each lead’s latest ' + dim.label.toLowerCase() + ' (counts differ for leads whose ' + dim.label.toLowerCase() + ' changed)' : ''}.` : ` All Leads cannot filter by ${dim.label.toLowerCase()}, so these rows are not links.`);
  }

  function exportCsv() {
    if (!state.data || !state.sorted) return;
    downloadText(breakdownFileName(state.by, state.touch, state.data), breakdownCsv(state.sorted, state.data.stages, state.by));
    toast(`Exported ${num(state.sorted.length)} row${state.sorted.length === 1 ? '' : 's'}`, 'success', { key: 'export' });
  }

  ctx.onLive(() => load({ quiet: true }));
  load();
}
