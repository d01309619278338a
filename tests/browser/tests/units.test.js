// Pure-function checks of the dashboard's CSV, formatting, range/delta and breakdown modules (no browser, no server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, toCsv, CSV_COLUMNS, csvColumns, exportFileName } from '../../../static-site/js/csv.js';
import { ago, duration, pct, leadName, stageColor } from '../../../static-site/js/format.js';
import { parseCsv } from '../lib/harness.js';
import {
  todayIn, parseRange, rangeParams, resolveRange, validateCustom, previousRange, delta, rateDelta, deltaText, deltaWords,
  chartBuckets, compareSources, sortRows, isYmd, spanDays,
} from '../../../static-site/js/range.js';
import { breakdownColumns, breakdownCsv, breakdownFileName, defaultDir, pinOther, peakDecile, DECILES } from '../../../static-site/js/breakdown.js';
import { dayRange } from '../../../static-site/js/format.js';

test('csvCell neutralises formula triggers and quotes per RFC 4180', () => {
  assert.equal(csvCell('=1+1'), "'=1+1");
  assert.equal(csvCell('+SUM(A1)'), "'+SUM(A1)");
  assert.equal(csvCell('-cmd'), "'-cmd");
  assert.equal(csvCell('-2+3'), "'-2+3", 'arithmetic is not a phone number');
  assert.equal(csvCell('+'), "'+");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvCell('\tx'), "'\tx");
  assert.equal(csvCell('\rx'), `"'\rx"`);
  assert.equal(csvCell('=HYPERLINK("a","b")'), `"'=HYPERLINK(""a"",""b"")"`);
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('line1\nline2'), '"line1\nline2"');
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a=b'), 'a=b', 'only a leading trigger matters');
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(undefined), '');
  assert.equal(csvCell(42), '42');
  assert.equal(csvCell({ k: 'v' }), '"{""k"":""v""}"');
});

test('phone numbers are exported exactly as written', () => {
  for (const phone of ['+1 555 0100', '+1-555-0100', '-555 0100', '+44 (20) 7946-0958', '+1.555.010.0100', '555-0100 ext. 12', '+49 30/1234567', '-2']) {
    assert.equal(csvCell(phone), phone);
  }
});

test('stage columns and file names', () => {
  const stages = ['New', 'Paid'];
  const cols = csvColumns(stages);
  assert.deepEqual(cols.slice(-2).map(([n]) => n), ['reached New at', 'reached Paid at']);
  const rows = parseCsv(toCsv([{ id: '1', stage_reached_at: { New: '2026-11-01T10:00:00Z' } }], cols));
  assert.equal(rows[1][rows[0].indexOf('reached New at')], '2026-11-01T10:00:00Z');
  assert.equal(rows[1][rows[0].indexOf('reached Paid at')], '');
  assert.equal(exportFileName({ stage: 'Paid', source: 'google', from: '2026-11-01', to: '2026-11-28' }),
    'leads_stage-paid_source-google_2026-11-01_to_2026-11-28.csv');
  assert.equal(exportFileName({ stage: 'Form Started', campaign: 'LLC Spring/2026' }, { today: '2026-11-28' }),
    'leads_stage-form-started_campaign-llc-spring-2026_exported-2026-11-28.csv');
  assert.equal(exportFileName({}, { today: '2026-11-28' }), 'leads_all_exported-2026-11-28.csv');
  assert.equal(exportFileName({ from: '2026-11-01' }, { selected: 3, sort: 'oldest' }), 'leads_selected-3_from_2026-11-01_oldest-first.csv');
});

test('toCsv round-trips through a CSV parser', () => {
  const lead = { id: '1', email: 'x@y.z', first_name: 'A "quoted", name', custom_data: { a: '=x' }, first_touch: { source: 'g' } };
  const rows = parseCsv(toCsv([lead]));
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], CSV_COLUMNS.map(([n]) => n));
  const get = (n) => rows[1][rows[0].indexOf(n)];
  assert.equal(get('first_name'), 'A "quoted", name');
  assert.equal(get('first_touch_source'), 'g');
  assert.deepEqual(JSON.parse(get('custom_data')), { a: '=x' });
});

test('duration carries its rounding into the next unit (issue 21 item 3: "2d 24h")', () => {
  const day = 86400;
  assert.equal(duration(2 * day + 23.6 * 3600), '3d');
  assert.equal(duration(2 * day + 23.4 * 3600), '2d 23h');
  assert.equal(duration(day - 20), '1d', '23h 59m 40s');
  assert.equal(duration(3600 - 10), '1h', '59m 50s');
  assert.equal(duration(2 * 3600 - 20), '2h', '1h 59m 40s');
  assert.equal(duration(59.6), '1m');
  assert.equal(duration(59.4), '59s');
  assert.equal(duration(day + 3600), '1d 1h');
  assert.equal(duration(0), '0s');
  for (let s = 0; s < 10 * day; s += 97) {
    const text = duration(s);
    assert.doesNotMatch(text, /(^|\s)(60[sm]|24h)/, `${s}s → ${text}`);
  }
});

test('formatting helpers', () => {
  const now = Date.parse('2026-11-27T12:00:00Z');
  assert.equal(ago('2026-11-27T11:59:50Z', now), 'just now');
  assert.equal(ago('2026-11-27T09:00:00Z', now), '3h ago');
  assert.equal(ago('2026-11-25T12:00:00Z', now), '2d ago');
  assert.equal(duration(3600), '1h');
  assert.equal(duration(5400), '1h 30m');
  assert.equal(duration(null), '—');
  assert.equal(pct(0.5), '50%');
  assert.equal(pct(null), '—');
  assert.equal(leadName({ first_name: 'Jo', last_name: null, email: 'j@x.io' }), 'Jo');
  assert.equal(leadName({ email: 'j@x.io' }), 'j@x.io');
  const stages = ['New', 'Form Started', 'Application Submitted', 'Paid', 'Completed'];
  assert.equal(stageColor('Paid', stages), 'green');
  assert.equal(stageColor('Unknown', stages), 'gray');
  assert.notEqual(stageColor('New', stages), stageColor('Form Started', stages));
});

// ---------- report helpers: ranges, deltas, chart buckets, sources, sorting, breakdown CSV ----------

test('today in the reporting zone, not the machine\'s', () => {
  const now = Date.parse('2026-11-28T05:00:00Z');
  assert.equal(todayIn('UTC', now), '2026-11-28');
  assert.equal(todayIn('Pacific/Kiritimati', now), '2026-11-28'); // 19:00 the same day
  assert.equal(todayIn('Pacific/Pago_Pago', now), '2026-11-27'); // 18:00 the day before
  assert.equal(todayIn('America/New_York', Date.parse('2026-03-08T04:59:00Z')), '2026-03-07');
  assert.equal(todayIn('Not/AZone', now), '2026-11-28', 'an unknown zone falls back to UTC');
});

test('presets resolve to dates ending today; custom ranges are kept; the URL holds only what is needed', () => {
  const today = '2026-03-15';
  const r = (q) => resolveRange(parseRange(new URLSearchParams(q)), today);
  assert.deepEqual(r(''), { from: '2026-02-14', to: today, days: 30, preset: '30d', label: 'Last 30 days' });
  assert.deepEqual([r('range=today').from, r('range=today').days], [today, 1]);
  assert.deepEqual([r('range=7d').from, r('range=7d').days], ['2026-03-09', 7]);
  assert.deepEqual([r('range=90d').from, r('range=90d').days], ['2025-12-16', 90]);
  assert.deepEqual([r('range=month').from, r('range=month').days], ['2026-03-01', 15]);
  assert.equal(resolveRange({ preset: 'month' }, '2024-02-29').from, '2024-02-01');
  assert.equal(r('range=bogus').preset, '30d');
  assert.deepEqual(r('from=2026-01-01&to=2026-01-31'), { from: '2026-01-01', to: '2026-01-31', days: 31, preset: null, label: 'Custom range' });
  // from/to win over a preset; a bad custom range falls back to the default and says why.
  assert.deepEqual(parseRange(new URLSearchParams('range=7d&from=2026-01-01&to=2026-01-02')), { from: '2026-01-01', to: '2026-01-02' });
  const bad = parseRange(new URLSearchParams('from=2026-01-05&to=2026-01-01'));
  assert.equal(bad.preset, '30d');
  assert.match(bad.error, /must be on or before/);
  assert.deepEqual(rangeParams({ preset: '30d' }), []);
  assert.deepEqual(rangeParams({ preset: '7d' }), [['range', '7d']]);
  assert.deepEqual(rangeParams({ from: '2026-01-01', to: '2026-01-02' }), [['from', '2026-01-01'], ['to', '2026-01-02']]);
});

test('custom range validation: one message for each problem', () => {
  assert.equal(validateCustom('2026-01-01', '2026-01-01'), null);
  assert.equal(validateCustom('', '2026-01-01'), 'Choose both a “From” and a “To” date.');
  assert.equal(validateCustom('2026-02-30', '2026-03-01'), '“From” (2026-02-30) is not a valid date.');
  assert.equal(validateCustom('2026-01-01', '2026-13-01'), '“To” (2026-13-01) is not a valid date.');
  assert.equal(validateCustom('2026-01-02', '2026-01-01'), '“From” (2026-01-02) must be on or before “To” (2026-01-01).');
  assert.equal(validateCustom('2025-01-01', '2026-02-04'), null, '400 days is the limit');
  assert.equal(validateCustom('2025-01-01', '2026-02-05'), 'A range can cover at most 400 days; 2025-01-01 to 2026-02-05 covers 401.');
  assert.ok(isYmd('2024-02-29') && !isYmd('2026-02-29') && !isYmd('2026-1-01'));
  assert.equal(spanDays('2025-12-31', '2026-01-01'), 2);
  assert.deepEqual(previousRange('2026-03-01', '2026-03-31'), { from: '2026-01-29', to: '2026-02-28' });
  assert.deepEqual(previousRange('2026-03-15', '2026-03-15'), { from: '2026-03-14', to: '2026-03-14' });
});

test('deltas: absolute and %, "new" after zero, percentage points for rates, words for assistive technology', () => {
  assert.equal(deltaText(delta(17, 12)), '+5 (+42%)');
  assert.equal(deltaText(delta(13, 12)), '+1 (+8.3%)');
  assert.equal(deltaText(delta(9, 12)), '\u22123 (\u221225%)');
  assert.equal(deltaText(delta(0, 81)), '\u221281 (\u2212100%)');
  assert.equal(deltaText(delta(1200, 1000)), '+200 (+20%)');
  assert.equal(deltaText(delta(2200, 1000)), '+1,200 (+120%)');
  assert.equal(deltaText(delta(3, 0)), 'new');
  assert.equal(deltaText(delta(0, 0)), 'no change');
  assert.equal(deltaText(delta(5, 5)), 'no change');
  assert.equal(deltaText(delta(5, null)), '—');
  assert.equal(deltaText(delta(76, -60)), '+136 (+227%)', 'from a negative value (a loss): up, and the percentage says so');
  assert.equal(deltaText(delta(-90, -60)), '\u221230 (\u221250%)');
  assert.equal(delta(3, 0).kind, 'new');
  assert.equal(delta(9, 12).kind, 'down');
  assert.equal(deltaText(rateDelta(0.25, 0.2)), '+5.0 pp (+25%)');
  assert.equal(deltaText(rateDelta(0.1, 0.125)), '\u22122.5 pp (\u221220%)');
  assert.equal(deltaText(rateDelta(0.3, 0)), '+30.0 pp');
  assert.equal(deltaText(rateDelta(0.3333, 0.3334)), 'no change');
  assert.equal(rateDelta(0.5, null).kind, 'none', 'no rate before (no leads) is no comparison');
  assert.equal(deltaWords(delta(17, 12)), 'up 5 (42%)');
  assert.equal(deltaWords(delta(0, 81)), 'down 81 (100%)');
  assert.equal(deltaWords(delta(3, 0)), 'new: none in the previous period');
  assert.equal(deltaWords(rateDelta(0.1, 0.125)), 'down 2.5 percentage points (20%)');
});

test('chart buckets: daily up to 92 days, then Monday weeks, with the previous period summed over the same positions', () => {
  const days = (from, n, f = () => 1) => Array.from({ length: n }, (_, i) => {
    const d = new Date(`${from}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + i);
    return { date: d.toISOString().slice(0, 10), count: f(i) };
  });
  const daily = chartBuckets(days('2026-01-01', 92), days('2025-10-01', 92, () => 2));
  assert.equal(daily.unit, 'day');
  assert.equal(daily.buckets.length, 92);
  assert.deepEqual(daily.buckets[0], { date: '2026-01-01', to: '2026-01-01', count: 1, prev: 2 });
  // 2026-01-01 is a Thursday: a 4-day first week, then Monday weeks.
  const weekly = chartBuckets(days('2026-01-01', 93), days('2025-09-30', 93, (i) => i));
  assert.equal(weekly.unit, 'week');
  assert.deepEqual(weekly.buckets[0], { date: '2026-01-01', to: '2026-01-04', count: 4, prev: 0 + 1 + 2 + 3 });
  assert.deepEqual(weekly.buckets[1], { date: '2026-01-05', to: '2026-01-11', count: 7, prev: 4 + 5 + 6 + 7 + 8 + 9 + 10 });
  assert.equal(weekly.buckets.reduce((a, b) => a + b.count, 0), 93);
  assert.equal(weekly.buckets.reduce((a, b) => a + b.prev, 0), (92 * 93) / 2);
  assert.equal(chartBuckets(days('2026-01-01', 3)).buckets[0].prev, null);
});

test('top sources against the previous period: unknown inside "(other)", previous-only sources at zero', () => {
  assert.deepEqual(compareSources([{ source: 'google', count: 5 }, { source: 'bing', count: 1 }], [{ source: 'google', count: 4 }, { source: 'meta', count: 2 }]),
    [{ source: 'google', count: 5, prev: 4 }, { source: 'bing', count: 1, prev: 0 }, { source: 'meta', count: 0, prev: 2 }]);
  assert.deepEqual(compareSources([{ source: 'bing', count: 1 }], [{ source: 'google', count: 4 }, { source: '(other)', count: 9 }]),
    [{ source: 'bing', count: 1, prev: null }, { source: 'google', count: 0, prev: 4 }]);
  assert.deepEqual(compareSources([{ source: 'google', count: 1 }, { source: '(other)', count: 3 }], [{ source: 'meta', count: 4 }]),
    [{ source: 'google', count: 1, prev: 0 }, { source: '(other)', count: 3, prev: 0 }], 'meta may be inside this period\'s (other): not listed');
  assert.deepEqual(compareSources([], []), []);
});

test('table sort: both directions, nulls last, ties in input order, "(other)" pinned last', () => {
  const rows = [{ value: 'b', n: 2 }, { value: '(other)', n: 50 }, { value: 'a', n: null }, { value: 'c', n: 2 }, { value: 'd', n: 9 }];
  const order = (dir, key = 'n') => sortRows(rows, (r) => r[key], dir, pinOther).map((r) => r.value);
  assert.deepEqual(order('desc'), ['d', 'b', 'c', 'a', '(other)']);
  assert.deepEqual(order('asc'), ['b', 'c', 'd', 'a', '(other)']);
  assert.deepEqual(order('asc', 'value'), ['a', 'b', 'c', 'd', '(other)']);
  assert.deepEqual(order('desc', 'value'), ['d', 'c', 'b', 'a', '(other)']);
});

test('breakdown columns, CSV and file name', () => {
  const stages = ['New', 'Form Started', 'Paid'];
  const cols = breakdownColumns(stages);
  assert.deepEqual(cols.map((c) => c.key), ['value', 'leads', 'reached:Form Started', 'step:Form Started', 'overall:Form Started', 'time:Form Started',
    'reached:Paid', 'step:Paid', 'overall:Paid', 'time:Paid']);
  assert.equal(defaultDir(cols[0]), 'asc');
  assert.equal(defaultDir(cols[1]), 'desc');
  assert.equal(defaultDir(cols.find((c) => c.key === 'time:Paid')), 'asc', 'quickest first');
  const row = {
    value: '=cmd', leads: 8, reached: { New: 8, 'Form Started': 4, Paid: 1 },
    step_conversion: { New: 0.5, 'Form Started': 0.25, Paid: null },
    overall_conversion: { New: 1, 'Form Started': 0.5, Paid: 0.125 },
    avg_seconds_to: { New: null, 'Form Started': 5400, Paid: null },
  };
  assert.equal(cols.find((c) => c.key === 'step:Paid').get(row), 0.25, 'step into Paid is the conversion from the stage before');
  const csv = parseCsv(breakdownCsv([row], stages, 'campaign'));
  assert.deepEqual(csv[0], ['campaign', 'leads', 'reached Form Started', 'New to Form Started (%)', 'leads to Form Started (%)', 'avg hours to Form Started',
    'reached Paid', 'Form Started to Paid (%)', 'leads to Paid (%)', 'avg hours to Paid']);
  assert.deepEqual(csv[1], ["'=cmd", '8', '4', '50', '50', '1.5', '1', '25', '12.5', '']);
  assert.equal(breakdownFileName('device_type', 'latest', { from: '2026-11-01', to: '2026-11-30' }), 'campaign-performance_by-device_latest-touch_2026-11-01_to_2026-11-30.csv');
  assert.equal(breakdownFileName('campaign', 'first', { from: '2026-11-01', to: '2026-11-30' }), 'campaign-performance_by-campaign_first-touch_2026-11-01_to_2026-11-30.csv');
  assert.equal(exportFileName({ stage: 'Form Started', idle_hours: 48, from: '2026-11-01', to: '2026-11-30' }), 'leads_stage-form-started_idle-over-48h_2026-11-01_to_2026-11-30.csv');
});

test('abandonment deciles and range labels', () => {
  assert.equal(DECILES.length, 10);
  assert.equal(DECILES[0], '0–9%');
  assert.equal(DECILES[9], '90–99%');
  assert.equal(peakDecile([0, 2, 5, 5, 0, 0, 0, 0, 0, 1]), 2);
  assert.equal(peakDecile([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), -1);
  assert.equal(dayRange('2026-11-01', '2026-11-30'), 'Nov 1 – Nov 30, 2026');
  assert.equal(dayRange('2025-12-20', '2026-01-05'), 'Dec 20, 2025 – Jan 5, 2026');
  assert.equal(dayRange('2026-11-28', '2026-11-28'), 'Nov 28, 2026');
});

test('money: exact decimal text from minor units, sums per currency, CSV text, breakdown money columns', async () => {
  const m = await import('../../../static-site/js/money.js');
  const { moneyCsvColumns } = await import('../../../static-site/js/breakdown.js');
  assert.equal(m.decimalText(4999, 'USD'), '49.99');
  assert.equal(m.decimalText(-5, 'USD'), '-0.05');
  assert.equal(m.decimalText(1500, 'JPY'), '1500');
  assert.equal(m.decimalText(5, 'BHD'), '0.005');
  assert.equal(m.decimalText(9007199254740991, 'USD'), '90071992547409.91', 'exact up to 2^53');
  assert.deepEqual(m.sumByCurrency([{ minor: 10, currency: 'USD' }, { minor: 20, currency: 'USD' }, { minor: 7, currency: 'JPY' }]),
    [{ minor: 7, currency: 'JPY', amount: '7' }, { minor: 30, currency: 'USD', amount: '0.30' }]);
  const lead = { orders: [{ order_id: 'a', value: { minor: 1, currency: 'USD' } }, { order_id: 'b', value: { minor: 2, currency: 'USD' }, removed_at: 'x' },
    { order_id: 'c', unread: { value: '1,x', currency: 'USD', reason: 'r' } }] };
  assert.deepEqual(m.leadRevenue(lead), [{ minor: 1, currency: 'USD', amount: '0.01' }], 'removed and kept-apart orders do not count');
  assert.equal(m.moneyListText(m.leadRevenue(lead)), '0.01 USD');
  assert.equal(m.money(null), '—');
  assert.equal(m.roas(null), '—');
  assert.equal(m.roas(2.5), '2.50×');
  assert.equal(new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', currencyDisplay: 'name' }).format('1'), '1.00 US dollars', 'precondition: Node has full ICU');
  assert.match(m.moneyWords({ minor: 4999, currency: 'USD' }), /^49\.99 US dollars$/, 'the currency in words, not a "$"');
  assert.match(m.moneyWords({ minor: 1500, currency: 'JPY' }), /^1,500 Japanese yen$/);
  assert.match(m.moneyWords({ minor: 1234, currency: 'BHD' }), /^1\.234 Bahraini dinars$/);
  assert.equal(m.moneyWords(null), 'no value');
  assert.equal(m.moneyWords(null, 'not applicable'), 'not applicable');
  const row = { money: { revenue: { minor: 4999, currency: 'USD', amount: '49.99' }, revenue_not_converted: [{ minor: 1500, currency: 'JPY', amount: '1500' }], spend: null, cost_per_stage: { Paid: null }, roas: null, roi: 0.1234 } };
  const cols = moneyCsvColumns([row], ['Paid']);
  const get = (name) => cols.find(([n]) => n === name)[1](row);
  assert.equal(get('revenue (USD)'), '49.99');
  assert.equal(get('revenue not converted'), '1500 JPY');
  assert.equal(get('spend (USD)'), '', 'null is empty, never 0');
  assert.equal(get('cost per Paid (USD)'), '');
  assert.equal(get('roi (%)'), '12.34');
});
