// Campaign performance and form abandonment: table columns, sorting keys, CSV and file names
// (pure functions, no DOM; unit-tested).
import { toCsv } from './csv.js';

export const DIMENSIONS = [
  { id: 'campaign', label: 'Campaign', filter: 'campaign' },
  { id: 'source', label: 'Source', filter: 'source' },
  { id: 'domain', label: 'Domain', filter: null }, // All Leads cannot filter by domain
  { id: 'device_type', label: 'Device', filter: null }, // … nor by device
];
export const TOUCHES = [
  { id: 'first', label: 'First touch' },
  { id: 'latest', label: 'Latest touch' },
];
export const METRICS = [
  { id: 'reached', label: 'Reached', short: 'reached' },
  { id: 'step', label: 'Step %', short: 'step conversion' },
  { id: 'overall', label: 'Of leads %', short: 'conversion from lead' },
  { id: 'time', label: 'Avg time', short: 'average time from creation' },
];

/**
 * The sortable columns of a breakdown table: value, leads, then for every stage after the first its reached count,
 * step conversion (from the stage before), overall conversion (of the leads) and average time from creation.
 * Each column: {key, label, stage?, metric?, get(row), kind: 'text'|'count'|'ratio'|'seconds'}.
 */
export function breakdownColumns(stages) {
  const cols = [
    { key: 'value', label: 'Value', kind: 'text', get: (r) => r.value },
    { key: 'leads', label: 'Leads', kind: 'count', get: (r) => r.leads },
  ];
  stages.forEach((st, i) => {
    if (i === 0) return; // every lead reached the first stage: its figures are the lead count
    const before = stages[i - 1];
    cols.push(
      { key: `reached:${st}`, stage: st, metric: 'reached', label: 'Reached', kind: 'count', get: (r) => num(r.reached && r.reached[st]) },
      { key: `step:${st}`, stage: st, metric: 'step', label: 'Step %', kind: 'ratio', from: before, get: (r) => num(r.step_conversion && r.step_conversion[before]) },
      { key: `overall:${st}`, stage: st, metric: 'overall', label: 'Of leads %', kind: 'ratio', get: (r) => num(r.overall_conversion && r.overall_conversion[st]) },
      { key: `time:${st}`, stage: st, metric: 'time', label: 'Avg time', kind: 'seconds', get: (r) => num(r.avg_seconds_to && r.avg_seconds_to[st]) },
    );
  });
  return cols;
}

function num(v) {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Default direction of a column: text A→Z, numbers biggest first, times quickest first. */
export function defaultDir(col) {
  return col.kind === 'text' || col.kind === 'seconds' ? 'asc' : 'desc';
}

/** "(other)" sums many values: it stays last whatever the sort. */
export const pinOther = (r) => r.value === '(other)';

const round = (v, d) => (v === null ? '' : String(Math.round(v * 10 ** d) / 10 ** d));

/** CSV of the table as shown (rows in the order given): ratios as percentages, times in hours. */
export function breakdownCsv(rows, stages, by) {
  const dim = DIMENSIONS.find((d) => d.id === by);
  const columns = [];
  for (const c of breakdownColumns(stages)) {
    if (c.key === 'value') columns.push([dim ? dim.label.toLowerCase() : by, c.get]);
    else if (c.key === 'leads') columns.push(['leads', c.get]);
    else if (c.metric === 'reached') columns.push([`reached ${c.stage}`, c.get]);
    else if (c.metric === 'step') columns.push([`${c.from} to ${c.stage} (%)`, (r) => round(c.get(r) === null ? null : c.get(r) * 100, 1)]);
    else if (c.metric === 'overall') columns.push([`leads to ${c.stage} (%)`, (r) => round(c.get(r) === null ? null : c.get(r) * 100, 1)]);
    else if (c.metric === 'time') columns.push([`avg hours to ${c.stage}`, (r) => round(c.get(r) === null ? null : c.get(r) / 3600, 2)]);
  }
  return toCsv(rows, columns);
}

/** e.g. campaign-performance_by-campaign_first-touch_2026-11-01_to_2026-11-30.csv */
export function breakdownFileName(by, touch, range) {
  const dim = by === 'device_type' ? 'device' : String(by).replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const clean = (d) => String(d).replace(/[^0-9-]/g, '');
  return `campaign-performance_by-${dim}_${touch === 'latest' ? 'latest' : 'first'}-touch_${clean(range.from)}_to_${clean(range.to)}.csv`;
}

/** Labels of the ten completion deciles: "0–9%", …, "90–99%". */
export const DECILES = Array.from({ length: 10 }, (_, i) => `${i * 10}–${i * 10 + 9}%`);

/** Index of the decile where most leads stopped (the first on ties), or -1 when none stopped. */
export function peakDecile(deciles) {
  let best = -1;
  let max = 0;
  (deciles || []).forEach((n, i) => { if (Number(n) > max) { max = Number(n); best = i; } });
  return best;
}
