// Generated volume data: `n` realistic leads as CSV (the import format), created over the last 90 days (or as a
// profile says) with the time each later stage was reached. Deterministic for a given n. Also a CLI:
//   node tests/browser/lib/volume.js 10000 > leads.csv
import { createWriteStream } from 'node:fs';
import { pathToFileURL } from 'node:url';

const SOURCES = ['google', 'facebook', 'linkedin', 'newsletter', 'bing', 'tiktok', 'referral', 'direct'];
const CAMPAIGNS = ['llc-spring-2026', 'ein-fast-track', 'retarget-q4', 'brand-search', 'black-friday', 'webinar-nov'];
const DEVICES = ['desktop', 'mobile', 'tablet'];
const FIRST = ['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'Ethan', 'Sophia', 'Mason', 'Isabella', 'Lucas'];
const LAST = ['Martin', 'Chen', 'Patel', 'Garcia', 'Kim', 'Nguyen', 'Rossi', 'Silva', 'Novak', 'Okafor'];
const STAGES = ['New', 'Form Started', 'Application Submitted', 'Paid', 'Completed'];
const HEADER = ['email', 'first_name', 'last_name', 'phone', 'company', 'stage', 'source', 'campaign', 'device_type',
  'form_completion_percent', 'created_at', ...STAGES.slice(1).map((s) => `reached ${s} at`), 'value', 'currency', 'order_id'];
/** Order currencies: one lead in ten has an order, in one of these. */
export const ORDER_CURRENCIES = ['USD', 'EUR', 'JPY', 'GBP'];

/**
 * How leads are generated. The default is the volume run's; `REALISTIC` (issue 21's figure run) spreads leads over
 * 120 days and 8 campaigns, with leads that never started the form, leads without a campaign or device, varied times
 * between stages, and every lead's current stage entered 20 min (plus a few seconds) before a whole hour before `now`
 * (so "in the stage for more than N hours" has no lead on its edge while a test runs for less than 20 min).
 */
export const PROFILES = {
  volume: { days: 90, campaigns: CAMPAIGNS, devices: DEVICES, percents: [10, 25, 40, 60, 80, 100], steps: () => [30, 30, 30, 30], align: false },
  realistic: {
    days: 120,
    campaigns: [...CAMPAIGNS, 'spring-promo', 'partner-referral', ''],
    devices: [...DEVICES, 'desktop', 'mobile', ''],
    percents: [0, 5, 10, 25, 40, 55, 60, 80, 95, 100, 100, 0],
    steps: variedSteps,
    align: true,
  },
};
export const REALISTIC = PROFILES.realistic;

/** Minutes between consecutive stages of lead i: from a few minutes to a few days, different for every stage. */
export function variedSteps(i) {
  const MINUTES = [4, 11, 26, 45, 70, 135, 290, 610, 1500, 2900, 4400];
  return [0, 1, 2, 3].map((k) => MINUTES[(i * (k + 3) + k * 5) % MINUTES.length] + ((i * 13 + k * 7) % 9));
}

/** How far back to move a timeline whose last time is `last` so that it ends 20 min + (i % 30) s before an hour. */
function alignShift(last, now, i) {
  const HOUR = 3600_000;
  const margin = 20 * 60_000 + (i % 30) * 1000;
  const back = now - last;
  return Math.ceil((back - margin) / HOUR) * HOUR + margin - back;
}

/** Creation and stage times of lead i (0 = oldest): [created, ...reached] as Dates, the last one at most `now`. */
function timeline(i, n, now, depth, profile) {
  const span = profile.days * 86400_000;
  // The newest lead is created 3 h ago, so its stages are still in the past.
  const created = now - span + Math.floor((i / n) * (span - 3 * 3600_000));
  const steps = profile.steps(i).slice(0, depth).map((m) => m * 60_000);
  const room = now - 3600_000 - created;
  const total = steps.reduce((a, b) => a + b, 0);
  const scale = total > room ? room / total : 1; // the newest leads move faster
  const times = [created];
  for (const ms of steps) times.push(times[times.length - 1] + Math.max(60_000, Math.floor(ms * scale)));
  const shift = profile.align ? alignShift(times[times.length - 1], now, i) : 0;
  return times.map((t) => new Date(t - shift));
}

/** The i-th of n rows (0 = oldest), as CSV cells. */
function row(i, n, now, profile = PROFILES.volume) {
  const depth = [0, 1, 1, 1, 2, 2, 3, 4][(i * 7) % 8]; // how far the lead got
  const [created, ...times] = timeline(i, n, now, depth, profile);
  const reached = STAGES.slice(1).map((_, k) => (k < depth ? times[k].toISOString() : ''));
  const pick = (list, k) => list[k % list.length];
  return [`vol${i}@example.com`, FIRST[i % 10], LAST[(i * 3) % 10], `555-${String(i % 10000).padStart(4, '0')}`, `${LAST[i % 10]} LLC`,
    STAGES[depth], SOURCES[i % SOURCES.length], pick(profile.campaigns, i * 5), pick(profile.devices, i),
    String(pick(profile.percents, i)), created.toISOString(), ...reached, ...order(i)];
}

/** One lead in ten has an order: an exact decimal in one of four currencies (JPY without decimals). */
function order(i) {
  if (i % 10 !== 3) return ['', '', ''];
  const currency = ORDER_CURRENCIES[Math.floor(i / 10) % ORDER_CURRENCIES.length];
  const value = currency === 'JPY' ? String(1000 + (i % 50000)) : `${10 + (i % 490)}.${String(i % 100).padStart(2, '0')}`;
  return [value, currency, `ord-${i}`];
}

/** Spend sources and campaigns: 6 × 50 (the generated leads' campaigns among them). */
export const SPEND_SOURCES = SOURCES.slice(0, 6);
export const SPEND_CAMPAIGNS = [...CAMPAIGNS, ...Array.from({ length: 50 - CAMPAIGNS.length }, (_, k) => `campaign-${k}`)];

/** A year of daily spend for every source × campaign, as native spend CSV files of at most `perFile` rows. */
export function spendCsvFiles(now = Date.now(), days = 365, perFile = 18000) {
  const header = 'day,source,campaign,domain,amount,currency,clicks,impressions\n';
  const files = [];
  let body = ''; let rows = 0;
  for (let d = 0; d < days; d += 1) {
    const day = new Date(now - d * 86400_000).toISOString().slice(0, 10);
    SPEND_SOURCES.forEach((source, si) => SPEND_CAMPAIGNS.forEach((campaign, ci) => {
      const cents = 500 + ((d * 31 + si * 7 + ci * 13) % 9500);
      body += `${day},${source},${campaign},,${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')},USD,${cents % 97},${cents * 3}\n`;
      rows += 1;
      if (rows === perFile) { files.push(header + body); body = ''; rows = 0; }
    }));
  }
  if (rows) files.push(header + body);
  return files;
}

/** Daily exchange rates for a year, as a rates CSV (`day,currency,rate`). */
export function ratesCsv(now = Date.now(), days = 365) {
  const base = { EUR: 1.08, JPY: 0.0067, GBP: 1.27 };
  let out = 'day,currency,rate\n';
  for (let d = 0; d < days; d += 1) {
    const day = new Date(now - d * 86400_000).toISOString().slice(0, 10);
    for (const [c, r] of Object.entries(base)) out += `${day},${c},${(r * (1 + ((d % 7) - 3) / 1000)).toFixed(6)}\n`;
  }
  return out;
}

/** Writes n rows of CSV to `out` (a writable stream) as `profile` says (see PROFILES); resolves when flushed. */
export async function writeLeadsCsv(out, n, now = Date.now(), profile = PROFILES.volume) {
  const write = (s) => (out.write(s) ? null : new Promise((r) => out.once('drain', r)));
  await write(`${HEADER.join(',')}\n`);
  let chunk = '';
  for (let i = 0; i < n; i += 1) {
    chunk += `${row(i, n, now, profile).join(',')}\n`;
    if (chunk.length > 1 << 16) { await write(chunk); chunk = ''; }
  }
  await write(chunk);
  await new Promise((resolve, reject) => out.end((e) => (e ? reject(e) : resolve())));
}

/** Writes n rows to `path`. */
export function leadsCsvFile(path, n, now, profile) {
  return writeLeadsCsv(createWriteStream(path), n, now, profile);
}

/** n rows of CSV as one string (small runs: a body for POST /api/import). */
export function leadsCsvText(n, now = Date.now(), profile = PROFILES.volume) {
  const lines = [HEADER.join(',')];
  for (let i = 0; i < n; i += 1) lines.push(row(i, n, now, profile).join(','));
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  await writeLeadsCsv(process.stdout, Number(process.argv[2] || 1000));
}
