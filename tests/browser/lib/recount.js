// Issue 21's ground truth: the figures of Overview, Campaigns and Form Abandonment recounted from lead rows (as
// GET /api/leads/export answers them), written from what each figure means, not from how the server counts it.
// Pure functions, no browser. Days are UTC days (the test server's reporting time zone).

/** The UTC day of an RFC 3339 time: 'YYYY-MM-DD'. */
export const dayOf = (iso) => new Date(iso).toISOString().slice(0, 10);

/** Leads created on a day of [from, to]. */
export function createdIn(leads, { from, to }) {
  return leads.filter((l) => { const d = dayOf(l.created_at); return d >= from && d <= to; });
}

/** A value as reports group it: trimmed and lower-cased; empty is '(none)'. */
export function valueOf(raw) {
  const v = raw === null || raw === undefined ? '' : String(raw).trim().toLowerCase();
  return v || '(none)';
}

/** The value of `dim` (source, campaign, domain, device_type) at the first or the latest touch. */
export function touchValue(lead, dim, touch) {
  return valueOf(touch === 'first' ? (lead.first_touch || {})[dim] : lead[dim]);
}

/** The furthest stage a lead got to (its current one, or a later one it reached before moving back). */
function furthest(lead, stages) {
  const seen = [lead.stage, ...Object.keys(lead.stage_reached_at || {})].map((s) => stages.indexOf(s));
  return Math.max(...seen);
}

/** Milliseconds between two times, or null when either is missing. */
function between(a, b) {
  return a && b ? Date.parse(b) - Date.parse(a) : null;
}

/** Mean of positive durations in seconds (null when there are none). */
function meanSeconds(list) {
  const ms = list.filter((v) => v !== null && v > 0);
  return ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length / 1000 : null;
}

const ratio = (a, b) => (b > 0 ? a / b : null);

/** Per stage: leads that reached it (or a later one). */
export function reachedCounts(leads, stages) {
  return stages.map((_, i) => leads.filter((l) => furthest(l, stages) >= i).length);
}

/**
 * The Overview funnel of `leads`: per stage, leads now in it, leads that reached it, the share of those that reached
 * the next one, and the mean time from reaching it to reaching the next one (among leads that did, later).
 */
export function funnel(leads, stages) {
  const reached = reachedCounts(leads, stages);
  return stages.map((stage, i) => ({
    stage,
    count: leads.filter((l) => l.stage === stage).length,
    reached: reached[i],
    conversion_to_next: i + 1 < stages.length ? ratio(reached[i + 1], reached[i]) : null,
    avg_seconds_to_next: i + 1 < stages.length
      ? meanSeconds(leads.map((l) => between((l.stage_reached_at || {})[stage], (l.stage_reached_at || {})[stages[i + 1]])))
      : null,
  }));
}

/** Counts per key of `f(item)`, as a Map. */
function countBy(items, f) {
  const m = new Map();
  for (const x of items) m.set(f(x), (m.get(f(x)) || 0) + 1);
  return m;
}

/** The `n` busiest first-touch sources (ties by name), then '(other)' summing the rest: [{source, count}]. */
export function topSources(leads, n = 10) {
  const rows = [...countBy(leads, (l) => touchValue(l, 'source', 'first'))]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const other = rows.slice(n).reduce((a, [, c]) => a + c, 0);
  return [...rows.slice(0, n), ...(other ? [['(other)', other]] : [])].map(([source, count]) => ({ source, count }));
}

/** New leads per day of [from, to], every day, oldest first: [{date, count}]. */
export function leadsByDay(leads, { from, to }) {
  const per = countBy(leads, (l) => dayOf(l.created_at));
  const out = [];
  for (let d = new Date(`${from}T00:00:00Z`); d.toISOString().slice(0, 10) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
    const date = d.toISOString().slice(0, 10);
    out.push({ date, count: per.get(date) || 0 });
  }
  return out;
}

/**
 * Campaigns: one row per value of `dim` at `touch` (busiest first, ties by value): leads, and per stage the leads
 * that reached it, the share of the stage before that did, the share of all leads, and the mean time from creation.
 */
export function breakdown(leads, stages, dim, touch) {
  const groups = new Map();
  for (const l of leads) {
    const v = touchValue(l, dim, touch);
    if (!groups.has(v)) groups.set(v, []);
    groups.get(v).push(l);
  }
  return [...groups].map(([value, ls]) => {
    const reached = reachedCounts(ls, stages);
    const row = { value, leads: ls.length, reached: {}, step_conversion: {}, overall_conversion: {}, avg_seconds_to: {} };
    stages.forEach((st, i) => {
      row.reached[st] = reached[i];
      row.step_conversion[st] = i + 1 < stages.length ? ratio(reached[i + 1], reached[i]) : null;
      row.overall_conversion[st] = ratio(reached[i], ls.length);
      row.avg_seconds_to[st] = meanSeconds(ls.map((l) => between(l.created_at, (l.stage_reached_at || {})[st])));
    });
    return row;
  }).sort((a, b) => b.leads - a.leads || (a.value < b.value ? -1 : 1));
}

/**
 * Form Abandonment: per latest value of `dim`, leads, those whose form stopped below 100 % (`stopped`), by decile,
 * and of them those at 0 % (`never_started`). Only values with a stopped lead, most stopped first.
 */
export function abandonment(leads, dim) {
  const groups = new Map();
  for (const l of leads) {
    const v = touchValue(l, dim, 'latest');
    if (!groups.has(v)) groups.set(v, []);
    groups.get(v).push(l);
  }
  return [...groups].map(([value, ls]) => {
    const below = ls.map((l) => l.form_completion_percent).filter((p) => p !== null && p !== undefined && Number(p) < 100).map(Number);
    const deciles = Array.from({ length: 10 }, (_, i) => below.filter((p) => Math.min(9, Math.max(0, Math.floor(p / 10))) === i).length);
    return { value, leads: ls.length, stopped: below.length, deciles, never_started: below.filter((p) => p <= 0).length };
  }).filter((r) => r.stopped > 0).sort((a, b) => b.stopped - a.stopped || (a.value < b.value ? -1 : 1));
}

/** Leads in `stage` that entered it more than `hours` hours before `now` (ms). */
export function stalled(leads, stage, hours, now) {
  return leads.filter((l) => l.stage === stage && Date.parse(l.stage_entered_at) < now - hours * 3600_000).length;
}

/** The orders of `leads` placed on a day of the range, not removed: [{lead, minor, currency}]. */
export function ordersIn(leads, range) {
  return leads.flatMap((l) => (l.orders || [])
    .filter((o) => !o.removed_at && o.value && dayOf(o.at) >= range.from && dayOf(o.at) <= range.to)
    .map((o) => ({ lead: l, minor: Number(o.value.minor), currency: o.value.currency })));
}

/** Leads with revenue: an order that is not removed and has a positive amount. */
export function payingLeads(leads) {
  return leads.filter((l) => (l.orders || []).some((o) => !o.removed_at && o.value && Number(o.value.minor) > 0)).length;
}
