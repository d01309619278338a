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
import { DIMENSIONS, TOUCHES, METRICS, breakdownColumns, moneyColumns, defaultCpaStage, defaultDir, pinOther, breakdownCsv, breakdownFileName } from '../breakdown.js';
import { roas as roasText } from '../money.js';
import { moneyEl, noValue, notConvertedEl } from '../money-ui.js';
import { rangeFromQuery, rangePicker, reportQuery } from '../report-ui.js';
import { leadsLink, AGGREGATES } from './overview.js';

export function parseCampaignState(q) {
  const by = DIMENSIONS.some((d) => d.id === q.get('by')) ? q.get('by') : 'campaign';
  const touch = TOUCHES.some((t) => t.id === q.get('touch')) ? q.get('touch') : 'first';
  const sort = q.get('sort') || 'leads';
  const dir = ['asc', 'desc'].includes(q.get('dir')) ? q.get('dir') : null;
  // Figures shown: conversion per stage (default) or money; the CPA stage for the money view.
  const view = q.get('view') === 'money' ? 'money' : 'conversion';
  const cpa = q.get('cpa') || '';
  return { by, touch, sort, dir, view, cpa };
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
  const viewRadios = [['conversion', 'Conversion'], ['money', 'Money']].map(([id, label]) => h('label', { class: 'seg-option' },
    h('input', { type: 'radio', name: 'view', value: id, checked: id === state.view, class: 'seg-input', 'data-action': 'campaign-view' }),
    h('span', {}, label)));
  const cpaSel = h('select', { class: 'select', id: 'c-cpa', name: 'cpa', 'data-action': 'cpa-stage' });
  const cpaField = h('div', { class: 'filter filter-cpa', hidden: state.view !== 'money' },
    h('label', { class: 'filter-label', for: 'c-cpa' }, 'CPA stage'), cpaSel);
  const controls = h('div', { class: 'report-controls card' },
    h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: 'c-by' }, 'Break down by'), bySel),
    h('fieldset', { class: 'filter seg' }, h('legend', { class: 'filter-label' }, 'Attribution'), h('div', { class: 'seg-options' }, touchRadios)),
    h('fieldset', { class: 'filter seg' }, h('legend', { class: 'filter-label' }, 'Figures'), h('div', { class: 'seg-options' }, viewRadios)),
    cpaField);
  for (const l of viewRadios) {
    const r = l.querySelector('input');
    r.addEventListener('change', () => {
      if (!r.checked) return;
      state.view = r.value;
      cpaField.hidden = state.view !== 'money';
      sync();
      if (state.data) render();
    });
  }
  cpaSel.addEventListener('change', () => { state.cpa = cpaSel.value; sync(); if (state.data) render(); });
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

  const cpaStage = (stages) => (stages.includes(state.cpa) ? state.cpa : defaultCpaStage(stages));
  const allColumns = (stages) => [...breakdownColumns(stages), ...moneyColumns(stages, cpaStage(stages))];

  function query() {
    const cols = state.data ? allColumns(state.data.stages) : null;
    const col = cols && cols.find((c) => c.key === state.sort);
    const dirDefault = col ? defaultDir(col) : 'desc';
    return reportQuery(spec, [['by', state.by === 'campaign' ? '' : state.by], ['touch', state.touch === 'first' ? '' : state.touch],
      ['sort', state.sort === 'leads' ? '' : state.sort], ['dir', state.dir && state.dir !== dirDefault ? state.dir : ''],
      ['view', state.view === 'money' ? 'money' : ''], ['cpa', state.view === 'money' && state.cpa ? state.cpa : '']]);
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
    const hasMoney = (data.rows || []).some((r) => r.money);
    const moneyView = state.view === 'money' && hasMoney;
    const cpa = cpaStage(stages);
    setContent(cpaSel, stages.map((st) => h('option', { value: st, selected: st === cpa }, st)));
    const conv = breakdownColumns(stages);
    const mcols = moneyColumns(stages, cpa);
    const cols = moneyView ? [conv[0], conv[1], ...mcols] : conv;
    let col = [...conv, ...(hasMoney ? mcols : [])].find((c) => c.key === state.sort);
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
        sortStatus.textContent = `Sorted by ${c.metric ? `${c.stage} ${METRICS.find((m) => m.id === c.metric).short}` : (c.title || c.label).toLowerCase()}, ${d === 'asc' ? 'ascending' : 'descending'}.`;
      },
    }, text, h('span', { class: 'sort-icon', 'aria-hidden': 'true' }, state.sort === c.key ? (dir === 'asc' ? '▲' : '▼') : '↕'));
    const ariaSort = (c) => (state.sort === c.key ? (dir === 'asc' ? 'ascending' : 'descending') : 'none');
    const later = stages.slice(1);
    // "—" cells are read "no value" (no spend, no orders) or "not applicable" (nothing to divide by).
    const moneyCell = (c, r) => {
      const v = c.get(r);
      if (c.kind === 'x' || c.kind === 'ratio') return v === null ? noValue('not applicable') : c.kind === 'x' ? roasText(v) : pct(v);
      if (c.kind === 'count') return num(v);
      const nc = c.notConverted ? c.notConverted(r) : [];
      return [moneyEl(c.amount(r), c.notConverted ? 'no value' : 'not applicable'),
        notConvertedEl(nc, { short: true, title: 'No exchange rate: kept apart, not counted' })];
    };
    const moneyHead = (c) => h('th', { scope: 'col', class: 'num', 'aria-sort': ariaSort(c), 'data-col': c.key, title: c.title || null },
      sortBtn(c, [c.label, c.title ? h('span', { class: 'sr-only' }, ` (${c.title})`) : null]));
    const moneyTable = () => h('table', { class: 'table report-table report-money', 'data-by': data.by || state.by, 'data-touch': data.touch || state.touch, 'data-view': 'money' },
      h('caption', { class: 'sr-only' }, `Money by ${dim.label.toLowerCase()}, ${touch.label.toLowerCase()}, ${dayRange(data.from, data.to)}, in the reporting currency. Column headers are sort buttons.`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'col-value', 'aria-sort': ariaSort(cols[0]), 'data-col': 'value' }, sortBtn(cols[0], dim.label)),
        h('th', { scope: 'col', class: 'num', 'aria-sort': ariaSort(cols[1]), 'data-col': 'leads' }, sortBtn(cols[1], 'Leads')),
        mcols.map(moneyHead))),
      h('tbody', {}, rows.map((r) => h('tr', { 'data-value': r.value },
        h('th', { scope: 'row', class: 'col-value' }, valueCell(r)),
        h('td', { class: 'num', 'data-col': 'leads' }, num(r.leads)),
        mcols.map((c) => h('td', { class: `num m-money${c.kind === 'cost' ? ' m-cost' : ''}`, 'data-col': c.key, 'data-minor': c.amount ? String(c.get(r) ?? '') : null }, moneyCell(c, r)))))));
    const head1 = h('tr', {},
      h('th', { scope: 'col', rowspan: 2, class: 'col-value', 'aria-sort': ariaSort(cols[0]), 'data-col': 'value' }, sortBtn(cols[0], dim.label)),
      h('th', { scope: 'col', rowspan: 2, class: 'num', 'aria-sort': ariaSort(cols[1]), 'data-col': 'leads' }, sortBtn(cols[1], 'Leads')),
      later.map((st) => h('th', { scope: 'colgroup', colspan: 4, class: 'col-stage' }, st)));
    const head2 = h('tr', {}, cols.slice(2).map((c) => h('th', { scope: 'col', class: 'num', 'aria-sort': ariaSort(c), 'data-col': c.key },
      sortBtn(c, [c.label, h('span', { class: 'sr-only' }, ` (${c.stage}${c.metric === 'step' ? `, from ${c.from}` : ''})`)]))));
    const cell = (c, r) => {
      const v = c.get(r);
      if (v === null || v === undefined) return noValue('not applicable');
      if (c.kind === 'count') return num(v);
      if (c.kind === 'ratio') return pct(v);
      return duration(v);
    };
    const valueCell = (r) => {
      if (!dim.filter || AGGREGATES.has(r.value)) return h('span', { class: 'value-text' }, r.value);
      return h('a', { class: 'link-btn value-link', href: leadsLink({ [dim.filter]: r.value }, data), 'data-action': 'open-value', title: `List the leads of ${r.value}` }, r.value);
    };
    const table = moneyView ? moneyTable() : h('table', { class: 'table report-table', 'data-by': data.by || state.by, 'data-touch': data.touch || state.touch },
      h('caption', { class: 'sr-only' }, `Performance by ${dim.label.toLowerCase()}, ${touch.label.toLowerCase()}, leads created ${dayRange(data.from, data.to)}. Column headers are sort buttons.`),
      h('colgroup', {}, h('col', {}), h('col', {}), later.map(() => h('col', { span: 4 }))),
      h('thead', {}, head1, head2),
      h('tbody', {}, rows.map((r) => h('tr', { 'data-value': r.value },
        h('th', { scope: 'row', class: 'col-value' }, valueCell(r)),
        cols.slice(1).map((c) => h('td', { class: `num${c.metric ? ` m-${c.metric}` : ''}`, 'data-col': c.key }, cell(c, r)))))));
    setContent(tableHost, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `Performance by ${dim.label.toLowerCase()} (scrolls sideways)` }, table));
    setContent(note, moneyView
      ? `Money in the reporting currency: revenue of the orders placed in the range, spend of its spend rows; CPL is spend ÷ new leads, CPA spend ÷ leads that reached ${cpa}, ROAS revenue ÷ spend, ROI (revenue − spend) ÷ spend. “—”: no spend, or nothing to divide by. Amounts without an exchange rate are shown apart (“+ …”), never added in. `
      : state.view === 'money' ? 'This server reports no money yet. ' : '',
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
