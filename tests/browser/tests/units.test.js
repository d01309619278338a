// Pure-function checks of the dashboard's CSV and formatting modules (no browser, no server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, toCsv, CSV_COLUMNS, csvColumns, exportFileName } from '../../../static-site/js/csv.js';
import { ago, duration, pct, leadName, stageColor } from '../../../static-site/js/format.js';
import { parseCsv } from '../lib/harness.js';

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
