// Campaign performance and form abandonment: table columns, sorting keys, CSV and file names
// (pure functions, no DOM; unit-tested).
import { toCsv } from './csv.js';
import { normalize, moneyListText } from './money.js';

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

/** The stage whose cost is the CPA by default: "Paid" when the pipeline has it, else its last stage. */
export function defaultCpaStage(stages) {
  return (stages || []).find((st) => String(st).toLowerCase() === 'paid') || (stages || [])[stages.length - 1] || null;
}

const minorOf = (m) => { const a = normalize(m); return a ? a.minor : null; };
const moneyOf = (r) => (r && r.money && typeof r.money === 'object' ? r.money : {});

/**
 * The money columns of a breakdown table (from each row's `money`): revenue, paying leads, spend, CPL, CPA (cost per
 * lead reaching `cpaStage`), ROAS, ROI, profit, revenue per lead, average order value. get(row) is the sort key:
 * integer minor units for amounts (one reporting currency), the ratio for ROAS/ROI, null when the API has none.
 * `amount(row)` gives the API amount to show.
 */
export function moneyColumns(stages, cpaStage = defaultCpaStage(stages)) {
  const amountCol = (key, label, kind = 'money', extra = {}) => ({
    key: `money:${key}`, label, kind, amount: (r) => moneyOf(r)[key] ?? null, get: (r) => minorOf(moneyOf(r)[key]), ...extra,
  });
  return [
    amountCol('revenue', 'Revenue', 'money', { notConverted: (r) => moneyOf(r).revenue_not_converted || [] }),
    { key: 'money:paying_leads', label: 'Paying', title: 'Paying leads', kind: 'count', get: (r) => num(moneyOf(r).paying_leads) },
    amountCol('spend', 'Spend', 'cost', { notConverted: (r) => moneyOf(r).spend_not_converted || [] }),
    amountCol('cpl', 'CPL', 'cost', { title: 'Cost per lead: spend ÷ new leads' }),
    {
      key: 'money:cpa', label: 'CPA', title: `Cost per lead reaching ${cpaStage}`, kind: 'cost', stage: cpaStage,
      amount: (r) => (moneyOf(r).cost_per_stage || {})[cpaStage] ?? null, get: (r) => minorOf((moneyOf(r).cost_per_stage || {})[cpaStage]),
    },
    { key: 'money:roas', label: 'ROAS', title: 'Return on ad spend: revenue ÷ spend', kind: 'x', get: (r) => num(moneyOf(r).roas) },
    { key: 'money:roi', label: 'ROI', title: 'Return on investment: (revenue − spend) ÷ spend', kind: 'ratio', get: (r) => num(moneyOf(r).roi) },
    amountCol('profit', 'Profit', 'money', { title: 'Revenue − spend' }),
    amountCol('revenue_per_lead', 'Rev/lead', 'money', { title: 'Revenue per new lead' }),
    amountCol('average_order_value', 'AOV', 'money', { title: 'Average order value: revenue ÷ orders' }),
  ];
}

function num(v) {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Default direction of a column: text A→Z, numbers biggest first, times quickest first, costs cheapest first. */
export function defaultDir(col) {
  return col.kind === 'text' || col.kind === 'seconds' || col.kind === 'cost' ? 'asc' : 'desc';
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
  if (rows.some((r) => r && r.money)) columns.push(...moneyCsvColumns(rows, stages));
  return toCsv(rows, columns);
}

/**
 * Money columns of the CSV (when the rows carry `money`): amounts as decimal text in the reporting currency named in
 * the header ("revenue (USD)" → "49.99"), never floats; amounts without a rate in their own "… not converted" column
 * ("1.234 BHD; 1500 JPY"); ROAS as a ratio, ROI as a percentage; empty cells for null.
 */
export function moneyCsvColumns(rows, stages) {
  const first = rows.map((r) => normalize(moneyOf(r).revenue)).find(Boolean);
  const cur = first ? first.currency : '';
  const unit = cur ? ` (${cur})` : '';
  const text = (m) => { const a = normalize(m); if (!a) return ''; return a.currency === cur ? a.amount : `${a.amount} ${a.currency}`; };
  const m = moneyOf;
  return [
    [`revenue${unit}`, (r) => text(m(r).revenue)],
    ['revenue not converted', (r) => moneyListText(m(r).revenue_not_converted)],
    ['orders', (r) => m(r).orders],
    ['orders kept apart', (r) => m(r).orders_kept_apart],
    ['paying leads', (r) => m(r).paying_leads],
    [`spend${unit}`, (r) => text(m(r).spend)],
    ['spend not converted', (r) => moneyListText(m(r).spend_not_converted)],
    ['clicks', (r) => m(r).clicks],
    ['impressions', (r) => m(r).impressions],
    [`cpl${unit}`, (r) => text(m(r).cpl)],
    ...(stages || []).map((st) => [`cost per ${st}${unit}`, (r) => text((m(r).cost_per_stage || {})[st])]),
    ['roas', (r) => (num(m(r).roas) === null ? '' : String(m(r).roas))],
    ['roi (%)', (r) => round(num(m(r).roi) === null ? null : num(m(r).roi) * 100, 2)],
    [`profit${unit}`, (r) => text(m(r).profit)],
    [`revenue per lead${unit}`, (r) => text(m(r).revenue_per_lead)],
    [`average order value${unit}`, (r) => text(m(r).average_order_value)],
  ];
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
