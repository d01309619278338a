// CSV export helpers: RFC 4180 quoting plus spreadsheet formula-injection neutralising.
import { leadRevenue, moneyListText, countedOrders } from './money.js';

export const CSV_COLUMNS = [
  ['id', (l) => l.id],
  ['created_at', (l) => l.created_at],
  ['updated_at', (l) => l.updated_at],
  ['stage', (l) => l.stage],
  ['stage_entered_at', (l) => l.stage_entered_at],
  ['email', (l) => l.email],
  ['first_name', (l) => l.first_name],
  ['last_name', (l) => l.last_name],
  ['phone', (l) => l.phone],
  ['company', (l) => l.company],
  ['source', (l) => l.source],
  ['campaign', (l) => l.campaign],
  ['domain', (l) => l.domain],
  ['utm_source', (l) => l.utm_source],
  ['utm_medium', (l) => l.utm_medium],
  ['utm_campaign', (l) => l.utm_campaign],
  ['utm_term', (l) => l.utm_term],
  ['utm_content', (l) => l.utm_content],
  ['referrer', (l) => l.referrer],
  ['ip_address', (l) => l.ip_address],
  ['device_type', (l) => l.device_type],
  ['browser', (l) => l.browser],
  ['user_agent', (l) => l.user_agent],
  ['form_completion_percent', (l) => l.form_completion_percent],
  ['form_fields_completed', (l) => l.form_fields_completed],
  ['form_fields_total', (l) => l.form_fields_total],
  // Counted orders summed per currency, as decimal text: "60.00 USD; 1500 JPY" (never a float).
  ['revenue', (l) => moneyListText(leadRevenue(l))],
  ['orders', (l) => (Array.isArray(l.orders) ? countedOrders(l).length : 0)],
  ['first_touch_source', (l) => l.first_touch && l.first_touch.source],
  ['first_touch_campaign', (l) => l.first_touch && l.first_touch.campaign],
  ['first_touch_domain', (l) => l.first_touch && l.first_touch.domain],
  ['first_touch_utm_source', (l) => l.first_touch && l.first_touch.utm_source],
  ['first_touch_utm_medium', (l) => l.first_touch && l.first_touch.utm_medium],
  ['first_touch_utm_campaign', (l) => l.first_touch && l.first_touch.utm_campaign],
  ['first_touch_referrer', (l) => l.first_touch && l.first_touch.referrer],
  ['custom_data', (l) => (l.custom_data && Object.keys(l.custom_data).length ? JSON.stringify(l.custom_data) : '')],
];

/** Stage columns: when the lead first reached (or skipped past) each stage, from stage_reached_at. */
export function stageColumns(stages) {
  return (stages || []).map((st) => [`reached ${st} at`, (l) => (l.stage_reached_at && l.stage_reached_at[st]) || '']);
}

/** Every column of the export: the lead's fields, then one column per pipeline stage. */
export function csvColumns(stages) {
  return [...CSV_COLUMNS, ...stageColumns(stages)];
}

// A phone number as people write it: +1 555 0100, -555-0100, +44 (20) 7946-0958, 555.0100 ext. 12.
const PHONE = /^[+-]?[\d\s().\-/]*\d[\d\s().\-/]*(?:\s*(?:x|ext\.?)\s*\d+)?$/i;

/** Would a spreadsheet read this cell as a formula? Plain phone numbers are data, not formulas. */
export function isFormulaLike(v) {
  if (/^[=@\t\r]/.test(v)) return true;
  if (/^[+-]/.test(v)) return !PHONE.test(v);
  return false;
}

/** Neutralise a cell a spreadsheet would treat as a formula, then quote it if needed. */
export function csvCell(value) {
  if (value === null || value === undefined) return '';
  let v = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (isFormulaLike(v)) v = `'${v}`;
  if (/[",\r\n]/.test(v)) v = `"${v.replace(/"/g, '""')}"`;
  return v;
}

export function toCsv(leads, columns = CSV_COLUMNS) {
  const lines = [columns.map(([name]) => csvCell(name)).join(',')];
  for (const lead of leads) lines.push(columns.map(([, get]) => csvCell(get(lead))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function slug(v) {
  return String(v).normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'x';
}

/**
 * File name that says what is in the file, e.g. leads_stage-paid_source-google_2026-11-01_to_2026-11-28.csv.
 * filters: {stage, search, source, campaign, idle_hours, from, to}; opts: {sort, selected, today}
 */
export function exportFileName(filters = {}, { sort, selected, today = new Date().toISOString().slice(0, 10) } = {}) {
  const parts = ['leads'];
  if (selected) parts.push(`selected-${selected}`);
  for (const k of ['stage', 'source', 'campaign', 'search']) if (filters[k]) parts.push(`${k}-${slug(filters[k])}`);
  if (filters.idle_hours) parts.push(`idle-over-${String(filters.idle_hours).replace(/[^0-9]/g, '')}h`);
  const ymd = (d) => String(d).replace(/[^0-9-]/g, '');
  if (filters.from && filters.to) parts.push(`${ymd(filters.from)}_to_${ymd(filters.to)}`);
  else if (filters.from) parts.push(`from_${ymd(filters.from)}`);
  else if (filters.to) parts.push(`to_${ymd(filters.to)}`);
  if (sort === 'oldest') parts.push('oldest-first');
  if (parts.length === 1) parts.push('all');
  if (!filters.from && !filters.to) parts.push(`exported-${today}`);
  return `${parts.join('_').slice(0, 180)}.csv`;
}

export function downloadText(filename, text, type = 'text/csv;charset=utf-8') {
  // A BOM makes Excel read a CSV as UTF-8; JSON must not start with one.
  const blob = new Blob(type.startsWith('text/csv') ? ['\ufeff', text] : [text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; // blob: URL created here, never lead data
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  setTimeout(() => { a.remove(); URL.revokeObjectURL(url); }, 1000);
}
