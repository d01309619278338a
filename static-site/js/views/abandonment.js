// Form abandonment: where forms stop (completion deciles of leads below 100 %) by campaign and by device, and the
// leads stuck in a stage for more than N hours (GET /api/leads?idle_hours=N), exportable for retargeting.
import { h, icon } from '../dom.js';
import { api, loadStages, reportingZone } from '../api.js';
import { num, pct, dayRange, leadName, ago, dateTime, display } from '../format.js';
import { loading, errorState, empty, setContent, toast, stageChip } from '../ui.js';
import { toCsv, csvColumns, downloadText, exportFileName } from '../csv.js';
import { todayIn } from '../range.js';
import { DECILES, peakDecile } from '../breakdown.js';
import { rangeFromQuery, rangePicker, reportQuery } from '../report-ui.js';

export const MAX_IDLE_HOURS = 24 * 366;
const IDLE_PAGE = 50;
const EXPORT_PAGE = 200;

/** null when `raw` is a usable number of hours, else the message to show. */
export function validateHours(raw) {
  const v = String(raw ?? '').trim();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_IDLE_HOURS) return `Hours must be a whole number from 1 to ${num(MAX_IDLE_HOURS)}.`;
  return null;
}

export function renderAbandonment(root, ctx, params = {}) {
  ctx.setTitle('Form Abandonment', 'Where forms stop, and who is stuck in a stage');
  const q = params.query || new URLSearchParams();
  const idle = {
    stage: (q.get('stage') || '').trim(),
    hours: validateHours(q.get('idle')) ? 24 : Number(q.get('idle')),
    rows: [], next: null, total: null, seq: 0, countSeq: 0, counting: false,
  };
  const refresh = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh', 'aria-label': 'Refresh', onclick: () => load() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(refresh);

  const pickerHost = h('div', { class: 'range-host' });
  // Leads at 0 % never started the form: counted apart, and left out of "stopped" and the deciles unless asked.
  let withNever = q.get('never') === 'include';
  let last = null;
  const neverBox = h('input', { type: 'checkbox', class: 'check', id: 'a-never', 'data-action': 'include-never', checked: withNever });
  neverBox.addEventListener('change', () => {
    withNever = neverBox.checked;
    sync();
    if (last) drawTables(last.c, last.d);
  });
  const neverToggle = h('div', { class: 'card never-toggle' },
    h('label', { class: 'check-row', for: 'a-never' }, neverBox,
      h('span', {}, 'Count leads that never started the form (0 %) as stopping at 0–9 %')));
  const drawTables = (c, d) => {
    setContent(byCampaign, decileTable(c.rows || [], 'Campaign', c, withNever));
    setContent(byDevice, decileTable(d.rows || [], 'Device', d, withNever));
  };
  const byCampaign = h('div', { class: 'table-host', 'data-by': 'campaign' });
  const byDevice = h('div', { class: 'table-host', 'data-by': 'device_type' });

  // ---- stalled leads ----
  const stageSel = h('select', { class: 'select', id: 'i-stage', name: 'stage' });
  const hours = h('input', { class: 'input', type: 'number', id: 'i-hours', name: 'idle', min: 1, max: MAX_IDLE_HOURS, step: 1, value: idle.hours, inputmode: 'numeric', 'aria-describedby': 'i-error' });
  const hoursError = h('p', { class: 'filter-error', id: 'i-error', role: 'alert', hidden: true });
  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'export-idle', disabled: true, onclick: () => exportIdle() },
    icon('download'), h('span', { class: 'btn-label' }, 'Export CSV'));
  const idleForm = h('form', { class: 'idle-controls', 'aria-label': 'Stalled leads filter', novalidate: true, onsubmit: (e) => { e.preventDefault(); applyIdle(); } },
    h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: 'i-stage' }, 'In stage'), stageSel),
    h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: 'i-hours' }, 'For more than (hours)'), hours),
    h('div', { class: 'filter filter-buttons' }, h('button', { class: 'btn btn-secondary', type: 'submit', 'data-action': 'apply-idle' }, 'Show'), exportBtn),
    hoursError);
  stageSel.addEventListener('change', applyIdle);
  hours.addEventListener('change', applyIdle);
  const idleSummary = h('p', { class: 'summary idle-summary', role: 'status' });
  const idleHost = h('div', { class: 'table-host idle-host' });
  const moreBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'idle-more', hidden: true, onclick: () => loadIdle({ more: true }) }, 'Load more');

  root.append(pickerHost, neverToggle,
    h('div', { class: 'report-grid' },
      h('section', { class: 'card card-table', 'aria-labelledby': 'a-campaign' },
        cardHead('a-campaign', 'Where forms stop · by campaign', 'Leads whose form completion is below 100 %, by how far they got (latest campaign).'), byCampaign),
      h('section', { class: 'card card-table', 'aria-labelledby': 'a-device' },
        cardHead('a-device', 'Where forms stop · by device', 'The same, by the device of the latest visit.'), byDevice)),
    h('section', { class: 'card card-table card-idle', 'aria-labelledby': 'a-idle' },
      cardHead('a-idle', 'Stalled leads', 'Leads created in the range that have been in a stage longer than you choose: a retargeting list.'),
      idleForm, idleSummary, idleHost, h('div', { class: 'pager idle-pager' }, moreBtn)));

  let spec = null;
  let range = null;
  let picker = null;
  let stages = [];
  let seq = 0;

  function sync() {
    const qs = reportQuery(spec, [['stage', idle.stage], ['idle', idle.hours === 24 ? '' : idle.hours], ['never', withNever ? 'include' : '']]);
    history.replaceState(null, '', `#/abandonment${qs ? `?${qs}` : ''}`);
    ctx.shareRange(reportQuery(spec));
  }

  async function load({ quiet = false } = {}) {
    const mine = ++seq;
    ctx.busy();
    if (!quiet) for (const host of [byCampaign, byDevice]) setContent(host, loading('Loading…'));
    try {
      const zone = await reportingZone();
      const today = todayIn(zone);
      if (!spec) {
        const r = rangeFromQuery(q, today);
        spec = r.spec;
        picker = rangePicker({ id: 'a', spec, range: r.range, zone, error: r.error, onChange: (next) => { spec = next; sync(); load(); } });
        setContent(pickerHost, picker.el);
        ctx.shareRange(reportQuery(spec));
      }
      range = rangeFromQuery(new URLSearchParams(reportQuery(spec)), today).range;
      if (!stages.length) {
        stages = await loadStages();
        if (!idle.stage || !stages.includes(idle.stage)) idle.stage = stages[1] || stages[0] || '';
        setContent(stageSel, stages.map((st) => h('option', { value: st, selected: st === idle.stage }, st)));
      }
      const [c, d] = await Promise.all([
        api.abandonment({ by: 'campaign', from: range.from, to: range.to }),
        api.abandonment({ by: 'device_type', from: range.from, to: range.to }),
        loadIdle({ quiet }),
      ]);
      if (!root.isConnected || mine !== seq) return;
      picker.describe({ from: c.from, to: c.to, days: range.days }, null, zone);
      last = { c, d };
      drawTables(c, d);
    } catch (e) {
      if (e.status === 401 || mine !== seq) return;
      for (const host of [byCampaign, byDevice]) setContent(host, errorState(e, () => load()));
    }
    if (mine === seq) ctx.ready();
  }

  function applyIdle() {
    const err = validateHours(hours.value);
    hoursError.hidden = !err;
    hoursError.textContent = err || '';
    if (err) { hours.setAttribute('aria-invalid', 'true'); return; }
    hours.removeAttribute('aria-invalid');
    idle.stage = stageSel.value;
    idle.hours = Number(hours.value);
    sync();
    ctx.busy();
    loadIdle().then(() => { if (ctx.isCurrent()) ctx.ready(); });
  }

  /** The stalled-leads filter: stage, hours and the range's creation dates, without paging. */
  function idleFilter() {
    return { stage: idle.stage, idle_hours: idle.hours, from: range.from, to: range.to };
  }

  function idleQuery(extra = {}) {
    return { ...idleFilter(), limit: IDLE_PAGE, ...extra };
  }

  /** The stalled leads (first page, or the next one with more). Errors show in the list. */
  async function loadIdle({ more = false, quiet = false } = {}) {
    const mine = ++idle.seq;
    if (!more) idle.countSeq += 1; // a new first page: any count still running is for an older filter
    exportBtn.disabled = true;
    moreBtn.disabled = true;
    if (!more && !quiet) setContent(idleHost, loading('Loading stalled leads…'));
    try {
      const res = await api.leads(idleQuery(more && idle.next ? { cursor: idle.next } : {}));
      if (mine !== idle.seq || !root.isConnected) return;
      idle.rows = more ? [...idle.rows, ...(res.leads || [])] : (res.leads || []);
      idle.next = res.next_cursor || null;
      const exact = typeof res.total === 'number' && res.total_exact === true;
      // A later page keeps the total already counted; a fresh first page starts over (live updates keep the
      // last count on show until the new one answers).
      if (exact) idle.total = res.total;
      else if (!more && !quiet) idle.total = null;
      idle.atLeast = typeof res.total === 'number' ? res.total : 0;
      if (!more) idle.counting = !exact;
      renderIdle();
      if (!more && !exact) countIdle();
    } catch (e) {
      if (e.status === 401 || mine !== idle.seq) return;
      setContent(idleSummary, '');
      setContent(idleHost, errorState(e, () => loadIdle()));
      moreBtn.hidden = true;
    }
  }

  /**
   * The listing counts within a read budget ("1,000+"): ask GET /api/leads/count for the exact total of the same
   * filter (index keys only) and put it in the summary. An answer for an older filter is dropped (a later page
   * of the same filter keeps it); on failure the lower bound stays.
   */
  async function countIdle() {
    const mine = idle.countSeq;
    try {
      const res = await api.countLeads(idleFilter());
      if (mine !== idle.countSeq || !root.isConnected) return;
      if (res.total_exact !== false && typeof res.total === 'number') idle.total = res.total;
      else idle.atLeast = Math.max(idle.atLeast || 0, Number(res.total) || 0);
    } catch (e) {
      if (mine !== idle.countSeq || !root.isConnected) return;
      idle.total = null;
    }
    idle.counting = false;
    renderIdle();
  }

  function renderIdle() {
    const what = `in ${idle.stage} for more than ${num(idle.hours)} hour${idle.hours === 1 ? '' : 's'}, created ${dayRange(range.from, range.to)}`;
    // The API counts an idle listing within a read budget: exact, or a lower bound shown as "1,000+".
    // The exact figure then comes from countIdle(); "N+" shows only while it counts or if counting failed.
    const n = idle.total ?? Math.max(idle.rows.length, idle.atLeast || 0);
    const more = idle.total === null && idle.next ? '+' : '';
    idleSummary.dataset.total = String(n);
    idleSummary.dataset.totalExact = String(!more);
    idleSummary.dataset.counting = String(Boolean(idle.counting));
    setContent(idleSummary, h('strong', {}, `${num(n)}${more} lead${n === 1 && !more ? '' : 's'}`), ` ${what}`,
      idle.rows.length < n ? ` · showing ${num(idle.rows.length)}` : '');
    exportBtn.disabled = !idle.rows.length;
    moreBtn.hidden = !idle.next;
    moreBtn.disabled = false;
    if (!idle.rows.length) {
      setContent(idleHost, empty(`No leads stalled ${what}`, 'Try fewer hours, another stage or a longer range.'));
      return;
    }
    const table = h('table', { class: 'table idle-table' },
      h('caption', { class: 'sr-only' }, `Leads ${what}`),
      h('thead', {}, h('tr', {}, ['Name / Email', 'Stage', 'In stage for', 'Form %', 'Source', 'Campaign', 'Device', 'Phone'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, idle.rows.map((l) => h('tr', { 'data-lead-id': l.id },
        h('td', { class: 'cell-name' }, h('a', { class: 'link-btn', href: `#/leads/${encodeURIComponent(l.id)}` }, leadName(l)),
          l.email && l.email !== leadName(l) ? h('div', { class: 'muted small cell-email' }, l.email) : null),
        h('td', {}, stageChip(l.stage, stages)),
        h('td', { title: `Since ${dateTime(l.stage_entered_at)}` }, ago(l.stage_entered_at).replace(' ago', '')),
        h('td', { class: 'num' }, l.form_completion_percent === null || l.form_completion_percent === undefined ? '—' : `${Math.round(Number(l.form_completion_percent))}%`),
        h('td', { class: 'cell-text' }, display(l.source)),
        h('td', { class: 'cell-text' }, display(l.campaign)),
        h('td', { class: 'cell-text' }, display(l.device_type)),
        h('td', { class: 'cell-text' }, display(l.phone))))));
    setContent(idleHost, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Stalled leads (scrolls sideways)' }, table));
  }

  async function exportIdle() {
    if (exportBtn.disabled) return;
    exportBtn.disabled = true;
    const label = exportBtn.querySelector('.btn-label');
    const all = [];
    try {
      let cursor;
      do {
        label.textContent = all.length ? `Exporting… ${num(all.length)}` : 'Exporting…';
        const res = await api.exportLeads(idleQuery({ limit: EXPORT_PAGE, cursor }));
        all.push(...(res.leads || []));
        cursor = res.next_cursor || undefined;
      } while (cursor);
      downloadText(exportFileName({ stage: idle.stage, idle_hours: idle.hours, from: range.from, to: range.to }), toCsv(all, csvColumns(stages)));
      toast(`Exported ${num(all.length)} stalled lead${all.length === 1 ? '' : 's'}`, 'success', { key: 'export' });
    } catch (e) {
      if (e.status !== 401) toast(`Export failed: ${e.message}`, 'error', { key: 'export' });
    } finally {
      label.textContent = 'Export CSV';
      exportBtn.disabled = !idle.rows.length;
    }
  }

  ctx.onLive(() => load({ quiet: true }));
  load();
}

function cardHead(id, title, sub) {
  return h('header', { class: 'card-head' }, h('h2', { id }, title), sub ? h('p', { class: 'card-sub' }, sub) : null);
}

/** One row per value: leads, stopped, then the ten deciles as numbers with bars (the bars are decoration). */
/** A row's figures with the never-started leads (at 0 %) left out of `stopped` and the 0–9 % decile, or kept. */
export function withoutNeverStarted(r, include = false) {
  const dec = Array.isArray(r.deciles) ? r.deciles.map((n) => Number(n) || 0) : [];
  const never = Math.min(Math.max(0, Number(r.never_started) || 0), dec[0] || 0);
  if (include || !never) return { stopped: Number(r.stopped) || 0, deciles: dec, never };
  return { stopped: (Number(r.stopped) || 0) - never, deciles: [dec[0] - never, ...dec.slice(1)], never };
}

function decileTable(rows, label, data, withNever = false) {
  if (!rows.length) return empty('No leads in this range', `Nothing to show for ${dayRange(data.from, data.to)}.`);
  const table = h('table', { class: 'table decile-table' },
    h('caption', { class: 'sr-only' }, `Leads that stopped before the end of the form, by ${label.toLowerCase()} and by how far they got, ${dayRange(data.from, data.to)}`),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, label),
      h('th', { scope: 'col', class: 'num' }, 'Leads'),
      h('th', { scope: 'col', class: 'num' }, 'Stopped'),
      h('th', { scope: 'col', class: 'num' }, 'Never started'),
      DECILES.map((d) => h('th', { scope: 'col', class: 'num dec-head' }, h('span', { class: 'sr-only' }, 'stopped at '), d)),
      h('th', { scope: 'col' }, 'Most stop at'))),
    h('tbody', {}, rows.map((r) => {
      const fig = withoutNeverStarted(r, withNever);
      const dec = fig.deciles;
      const max = Math.max(1, ...dec.map((n) => Number(n) || 0));
      const peak = peakDecile(dec);
      return h('tr', { 'data-value': r.value },
        h('th', { scope: 'row', class: 'cell-text' }, r.value),
        h('td', { class: 'num', 'data-col': 'leads' }, num(r.leads)),
        h('td', { class: 'num', 'data-col': 'stopped' }, num(fig.stopped), r.leads ? h('span', { class: 'muted small' }, ` (${pct(fig.stopped / r.leads)})`) : null),
        h('td', { class: 'num', 'data-col': 'never' }, num(fig.never)),
        DECILES.map((_, i) => {
          const n = Number(dec[i]) || 0;
          const bar = h('span', { class: `dec-bar${i === peak ? ' is-peak' : ''}`, 'aria-hidden': 'true' });
          bar.style.height = `${n ? Math.max(8, (n / max) * 100) : 0}%`;
          return h('td', { class: 'num dec', 'data-decile': i }, h('span', { class: 'dec-track', 'aria-hidden': 'true' }, bar), h('span', { class: 'dec-n' }, num(n)));
        }),
        h('td', { 'data-col': 'peak' }, peak < 0 ? '—' : `${DECILES[peak]}${dec.filter((n) => Number(n) === Number(dec[peak])).length > 1 ? ' (tied)' : ''}`));
    })));
  return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `Where forms stop by ${label.toLowerCase()} (scrolls sideways)` }, table);
}
