// Formatting helpers (pure functions, no DOM).

const nf = new Intl.NumberFormat();

export function num(n) {
  return n === null || n === undefined || Number.isNaN(Number(n)) ? '—' : nf.format(n);
}

export function pct(ratio, digits = 1) {
  if (ratio === null || ratio === undefined || !Number.isFinite(Number(ratio))) return '—';
  const v = Number(ratio) * 100;
  return `${v.toFixed(v >= 10 || v === 0 ? 0 : digits)}%`;
}

export function leadName(lead) {
  const name = [lead.first_name, lead.last_name].filter(Boolean).join(' ').trim();
  return name || lead.email || lead.phone || 'Anonymous lead';
}

export function ago(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const hrs = Math.round(s / 3600);
  if (hrs < 24) return `${hrs}h ago`;
  const d = Math.round(s / 86400);
  if (d < 30) return `${d}d ago`;
  const mo = Math.round(d / 30.4);
  if (mo < 12) return `${mo}mo ago`;
  return `${Math.round(d / 365)}y ago`;
}

/** A duration rounded to its two largest units, the rounding carried ("2d 24h" is "3d", "1h 60m" is "2h"). */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return '—';
  const s = Math.max(0, Number(seconds));
  if (Math.round(s) < 60) return `${Math.round(s)}s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes}m`;
  if (minutes < 1440) {
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return m ? `${h}h ${m}m` : `${h}h`;
  }
  const hours = Math.round(s / 3600);
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  return h ? `${d}d ${h}h` : `${d}d`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

const dayMonthFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
export function date(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  return new Date(t).getFullYear() === new Date().getFullYear() ? dayMonthFmt.format(t) : dateFmt.format(t);
}
export function time(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : timeFmt.format(t);
}
export function dateTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '—' : dateTimeFmt.format(t);
}

/** "2026-10-29" -> "Oct 29" without timezone shifts. */
export function shortDay(ymd) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || '');
  if (!m) return String(ymd ?? '');
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

// Stage colours: assigned by pipeline position, with "paid" always green.
const PALETTE = ['blue', 'amber', 'violet', 'indigo', 'teal', 'pink', 'orange', 'cyan', 'lime'];
export function stageColor(stage, stages) {
  if (typeof stage === 'string' && stage.toLowerCase() === 'paid') return 'green';
  const i = stages ? stages.indexOf(stage) : -1;
  if (i < 0) return 'gray';
  return PALETTE[i % PALETTE.length];
}

export function display(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** "2026-11-01", "2026-11-30" -> "Nov 1 – Nov 30, 2026" (calendar days, no timezone shifts). */
export function dayRange(from, to) {
  const m1 = /^(\d{4})-(\d{2})-(\d{2})$/.exec(from || '');
  const m2 = /^(\d{4})-(\d{2})-(\d{2})$/.exec(to || '');
  if (!m1 || !m2) return `${from ?? ''} – ${to ?? ''}`;
  const opts = (year) => ({ month: 'short', day: 'numeric', timeZone: 'UTC', ...(year ? { year: 'numeric' } : {}) });
  const d1 = new Date(Date.UTC(+m1[1], +m1[2] - 1, +m1[3]));
  const d2 = new Date(Date.UTC(+m2[1], +m2[2] - 1, +m2[3]));
  if (from === to) return d1.toLocaleDateString('en-US', opts(true));
  const sameYear = m1[1] === m2[1];
  return `${d1.toLocaleDateString('en-US', opts(!sameYear))} – ${d2.toLocaleDateString('en-US', opts(true))}`;
}
