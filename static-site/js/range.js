// Reporting ranges and period-over-period deltas (pure functions, no DOM; unit-tested).
// Dates are 'YYYY-MM-DD' strings of the reporting time zone the API reports (analytics.time_zone).

/** Longest range the analytics API accepts, in days. */
export const MAX_DAYS = 400;
/** Ranges longer than this are charted by week. */
export const DAILY_CHART_MAX_DAYS = 92;

export const PRESETS = [
  { id: 'today', label: 'Today' },
  { id: '7d', label: 'Last 7 days', days: 7 },
  { id: '30d', label: 'Last 30 days', days: 30 },
  { id: '90d', label: 'Last 90 days', days: 90 },
  { id: 'month', label: 'This month' },
];
export const DEFAULT_PRESET = '30d';

const YMD = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Is this a real calendar day written YYYY-MM-DD? */
export function isYmd(v) {
  const m = YMD.exec(v || '');
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

export function addDays(ymd, n) {
  const m = YMD.exec(ymd);
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + n));
  return d.toISOString().slice(0, 10);
}

/** Days from a to b inclusive (a <= b gives >= 1). */
export function spanDays(a, b) {
  const t = (v) => { const m = YMD.exec(v); return Date.UTC(+m[1], +m[2] - 1, +m[3]); };
  return Math.round((t(b) - t(a)) / 86400000) + 1;
}

/** Today's date in the time zone `tz` (IANA name) at instant `now`; UTC when the zone is unknown. */
export function todayIn(tz, now = Date.now()) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: tz || 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  } catch {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  }
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/**
 * What the URL says: {preset} or {from, to} (custom), plus an error when a custom range in the URL is unusable
 * (then the default preset is used). Query keys: range=today|7d|30d|90d|month, or from=&to=.
 */
export function parseRange(q) {
  const from = (q.get('from') || '').trim();
  const to = (q.get('to') || '').trim();
  if (from || to) {
    const error = validateCustom(from, to);
    if (!error) return { from, to };
    return { preset: DEFAULT_PRESET, error, rejected: { from, to } };
  }
  const preset = q.get('range');
  return { preset: PRESETS.some((p) => p.id === preset) ? preset : DEFAULT_PRESET };
}

/** Query entries for a range spec (the default preset needs none). */
export function rangeParams(spec) {
  if (spec.from && spec.to) return [['from', spec.from], ['to', spec.to]];
  if (spec.preset && spec.preset !== DEFAULT_PRESET) return [['range', spec.preset]];
  return [];
}

/** The dates of a range spec in the reporting zone: {from, to, days, preset|null, label}. */
export function resolveRange(spec, today) {
  if (spec.from && spec.to) {
    return { from: spec.from, to: spec.to, days: spanDays(spec.from, spec.to), preset: null, label: 'Custom range' };
  }
  const p = PRESETS.find((x) => x.id === spec.preset) || PRESETS.find((x) => x.id === DEFAULT_PRESET);
  let from = today;
  if (p.days) from = addDays(today, -(p.days - 1));
  else if (p.id === 'month') from = `${today.slice(0, 8)}01`;
  return { from, to: today, days: spanDays(from, today), preset: p.id, label: p.label };
}

/** null when from/to make a usable custom range, else the one message to show. */
export function validateCustom(from, to) {
  if (!from || !to) return 'Choose both a “From” and a “To” date.';
  if (!isYmd(from)) return `“From” (${from}) is not a valid date.`;
  if (!isYmd(to)) return `“To” (${to}) is not a valid date.`;
  if (from > to) return `“From” (${from}) must be on or before “To” (${to}).`;
  const n = spanDays(from, to);
  if (n > MAX_DAYS) return `A range can cover at most ${MAX_DAYS} days; ${from} to ${to} covers ${n}.`;
  return null;
}

/** The period of equal length just before [from, to] (what the API reports as `previous`). */
export function previousRange(from, to) {
  const n = spanDays(from, to);
  const pto = addDays(from, -1);
  return { from: addDays(pto, -(n - 1)), to: pto };
}

// ---------- deltas ----------

/**
 * Change of a count against the previous period.
 * kind: 'up' | 'down' | 'flat' | 'new' (previous was 0) | 'none' (a side is unknown)
 */
export function delta(cur, prev) {
  const c = num(cur);
  const p = num(prev);
  if (c === null || p === null) return { kind: 'none', abs: null, rel: null };
  if (p === 0) return c === 0 ? { kind: 'flat', abs: 0, rel: 0 } : { kind: 'new', abs: c, rel: null };
  const abs = c - p;
  // Relative to the size of the previous value: a loss of 60 becoming a profit of 76 is up 227 %, not −227 %.
  return { kind: abs > 0 ? 'up' : abs < 0 ? 'down' : 'flat', abs, rel: abs / Math.abs(p) };
}

/** Change of a rate (0..1): abs in percentage points, rel relative to the previous rate. */
export function rateDelta(cur, prev) {
  const c = num(cur);
  const p = num(prev);
  // A rate without leads behind it (null) has nothing to compare: no leads then, or none now.
  if (c === null || p === null) return { kind: 'none', abs: null, rel: null, rate: true };
  const abs = (c - p) * 100;
  const rounded = Math.round(abs * 10) / 10;
  const kind = rounded > 0 ? 'up' : rounded < 0 ? 'down' : 'flat';
  return { kind, abs, rel: p > 0 ? (c - p) / p : null, rate: true };
}

function num(v) {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

const MINUS = '\u2212';
const sign = (v) => (v > 0 ? '+' : v < 0 ? MINUS : '');
const fmtInt = (v) => new Intl.NumberFormat('en-US').format(Math.abs(v));

/** "+41.7%" / "−20%": one decimal under 10 %. */
export function signedPercent(ratio) {
  const v = ratio * 100;
  const a = Math.abs(v);
  const digits = a < 10 && Math.round(a * 10) % 10 !== 0 ? 1 : 0;
  const text = a.toFixed(digits);
  return `${Number(text) === 0 ? '' : sign(v)}${text}%`;
}

/** The visible text of a delta (fmtAbs writes the size, e.g. as money): "+5 (+41.7%)", "−3 (−20%)", "+4.2 pp (+12%)", "new", "no change", "—". */
export function deltaText(d, fmtAbs = fmtInt) {
  if (d.kind === 'none') return '—';
  if (d.kind === 'new') return 'new';
  if (d.kind === 'flat') return 'no change';
  if (d.rate) {
    const pp = Math.round(Math.abs(d.abs) * 10) / 10;
    return `${sign(d.abs)}${pp.toFixed(1)} pp${d.rel !== null ? ` (${signedPercent(d.rel)})` : ''}`;
  }
  return `${sign(d.abs)}${fmtAbs(d.abs)} (${signedPercent(d.rel)})`;
}

/** Words for assistive technology: "up 5 (+41.7%)", "down 3 …", "new (none in the previous period)". */
export function deltaWords(d, fmtAbs = fmtInt) {
  if (d.kind === 'none') return 'no comparison available';
  if (d.kind === 'new') return 'new: none in the previous period';
  if (d.kind === 'flat') return 'no change';
  const size = d.rate ? `${(Math.round(Math.abs(d.abs) * 10) / 10).toFixed(1)} percentage points` : fmtAbs(d.abs);
  const rel = d.rel === null ? '' : ` (${signedPercent(Math.abs(d.rel)).replace(/^\+/, '')})`;
  return `${d.kind === 'up' ? 'up' : 'down'} ${size}${rel}`;
}

// ---------- charts ----------

/**
 * Chart buckets for [{date, count}] (every day of the range): daily up to DAILY_CHART_MAX_DAYS days, else weekly
 * (weeks start on Monday; the first and last may be partial). `previous` (the previous period's days, same length)
 * is summed over the same positions, so bar i can be compared with the same stretch of the period before.
 * Returns {unit, buckets: [{date, to, count, prev}]} (prev is null without `previous`).
 */
export function chartBuckets(days, previous) {
  const prevAt = (i) => (previous && previous[i] ? Number(previous[i].count) || 0 : 0);
  const weekly = days.length > DAILY_CHART_MAX_DAYS;
  const buckets = [];
  days.forEach((d, i) => {
    const m = YMD.exec(d.date);
    const dow = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay(); // 0 = Sunday
    const last = buckets[buckets.length - 1];
    const count = Number(d.count) || 0;
    if (!last || !weekly || dow === 1) buckets.push({ date: d.date, to: d.date, count, prev: previous ? prevAt(i) : null });
    else {
      last.to = d.date;
      last.count += count;
      if (previous) last.prev += prevAt(i);
    }
  });
  return { unit: weekly ? 'week' : 'day', buckets };
}

/**
 * Top sources with their previous-period counts: [{source, count, prev}] in the current order, then sources that
 * only the previous period had (count 0). prev is null when it is unknowable (the source may be inside the
 * previous period's "(other)"); a previous-only source is listed only when the current list has no "(other)".
 */
export function compareSources(cur = [], prev = []) {
  const OTHER = '(other)';
  const prevMap = new Map(prev.map((s) => [s.source, Number(s.count) || 0]));
  const prevHasOther = prevMap.has(OTHER);
  const curHasOther = cur.some((s) => s.source === OTHER);
  const rows = cur.map((s) => {
    let p = prevMap.has(s.source) ? prevMap.get(s.source) : (prevHasOther && s.source !== OTHER ? null : 0);
    if (s.source === OTHER) p = prevHasOther ? prevMap.get(OTHER) : 0;
    return { source: s.source, count: Number(s.count) || 0, prev: p };
  });
  if (!curHasOther) {
    const seen = new Set(cur.map((s) => s.source));
    for (const s of prev) if (!seen.has(s.source) && s.source !== OTHER) rows.push({ source: s.source, count: 0, prev: Number(s.count) || 0 });
  }
  return rows;
}

// ---------- tables ----------

/**
 * Sort rows by a key function; nulls last in both directions; ties keep the input order.
 * pinLast(row): rows that stay at the end (e.g. the "(other)" aggregate).
 */
export function sortRows(rows, get, dir = 'desc', pinLast = () => false) {
  const mul = dir === 'asc' ? 1 : -1;
  const indexed = rows.map((row, i) => ({ row, i, v: get(row) }));
  indexed.sort((a, b) => {
    const pa = pinLast(a.row) ? 1 : 0;
    const pb = pinLast(b.row) ? 1 : 0;
    if (pa !== pb) return pa - pb;
    const na = a.v === null || a.v === undefined || (typeof a.v === 'number' && !Number.isFinite(a.v));
    const nb = b.v === null || b.v === undefined || (typeof b.v === 'number' && !Number.isFinite(b.v));
    if (na !== nb) return na ? 1 : -1;
    if (na) return a.i - b.i;
    const c = typeof a.v === 'string' ? a.v.localeCompare(b.v) : a.v - b.v;
    return c ? c * mul : a.i - b.i;
  });
  return indexed.map((x) => x.row);
}
