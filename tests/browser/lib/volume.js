// Generated volume data: `n` realistic leads as CSV (the import format), created over the last 90 days with the
// time each later stage was reached. Deterministic for a given n. Also a CLI:
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

/** The i-th of n rows (0 = oldest), as CSV cells. */
function row(i, n, now) {
  const span = 90 * 86400_000;
  // The newest lead is created 3 h ago, so its last stage (2 h later) is still in the past.
  const created = new Date(now - span + Math.floor((i / n) * (span - 3 * 3600_000)));
  const depth = [0, 1, 1, 1, 2, 2, 3, 4][(i * 7) % 8]; // how far the lead got
  const reached = STAGES.slice(1).map((_, k) => (k < depth ? new Date(created.getTime() + (k + 1) * 1800_000).toISOString() : ''));
  return [`vol${i}@example.com`, FIRST[i % 10], LAST[(i * 3) % 10], `555-${String(i % 10000).padStart(4, '0')}`, `${LAST[i % 10]} LLC`,
    STAGES[depth], SOURCES[i % SOURCES.length], CAMPAIGNS[(i * 5) % CAMPAIGNS.length], DEVICES[i % 3],
    String([10, 25, 40, 60, 80, 100][i % 6]), created.toISOString(), ...reached, ...order(i)];
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

/** Writes n rows of CSV to `out` (a writable stream); resolves when flushed. */
export async function writeLeadsCsv(out, n, now = Date.now()) {
  const write = (s) => (out.write(s) ? null : new Promise((r) => out.once('drain', r)));
  await write(`${HEADER.join(',')}\n`);
  let chunk = '';
  for (let i = 0; i < n; i += 1) {
    chunk += `${row(i, n, now).join(',')}\n`;
    if (chunk.length > 1 << 16) { await write(chunk); chunk = ''; }
  }
  await write(chunk);
  await new Promise((resolve, reject) => out.end((e) => (e ? reject(e) : resolve())));
}

/** Writes n rows to `path`. */
export function leadsCsvFile(path, n, now) {
  return writeLeadsCsv(createWriteStream(path), n, now);
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  await writeLeadsCsv(process.stdout, Number(process.argv[2] || 1000));
}
