// Import: an admin picks a CSV (header row) or JSON-lines file, previews its first rows, imports it through
// POST /api/import and reads the report. Files over 5 MiB go through `leadpipe import FILE` instead.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { setContent, toast } from '../ui.js';
import { spendImportCard } from './spend.js';

const MAX_BYTES = 5 * 1024 * 1024;
const PREVIEW_ROWS = 10;
const MAPPING_SAMPLES = 3;
const CUSTOM = '';

/** The fields a column can be imported as (the postback fields and the history columns). */
export const IMPORT_FIELDS = [
  ['email', 'Email'], ['first_name', 'First name'], ['last_name', 'Last name'], ['phone', 'Phone'], ['company', 'Company'],
  ['stage', 'Stage'], ['source', 'Source'], ['campaign', 'Campaign'], ['domain', 'Domain'],
  ['utm_source', 'UTM source'], ['utm_medium', 'UTM medium'], ['utm_campaign', 'UTM campaign'], ['utm_term', 'UTM term'], ['utm_content', 'UTM content'],
  ['referrer', 'Referrer'], ['ip_address', 'IP address'], ['user_agent', 'User agent'], ['browser', 'Browser'], ['device_type', 'Device type'],
  ['form_completion_percent', 'Form completion %'], ['form_fields_completed', 'Form fields completed'], ['form_fields_total', 'Form fields total'],
  ['created_at', 'Created at'], ['stage_entered_at', 'Stage entered at'], ['lead_id', 'Leadpipe lead id'], ['custom_data', 'Custom data (JSON)'],
];

// Other tools' names, squashed: HubSpot, Pipedrive and Mailchimp contact exports (as the server's import does).
const ALIASES = {
  emailaddress: 'email', emailwork: 'email', emailhome: 'email', emailother: 'email', contactemail: 'email',
  phonenumber: 'phone', phonework: 'phone', phonemobile: 'phone', phonehome: 'phone', phoneother: 'phone', mobilephone: 'phone', mobilephonenumber: 'phone',
  companyname: 'company', organization: 'company', organisation: 'company', organizationname: 'company',
  givenname: 'first_name', familyname: 'last_name', surname: 'last_name',
};
const squash = (name) => String(name).toLowerCase().replace(/[^a-z0-9]/g, '');

/** The field a column name means (case, spaces and punctuation ignored), or '' (custom data). `stages` adds the
 * "reached <Stage> at" columns. */
export function guessField(name, stages = []) {
  const key = squash(name);
  if (!key) return CUSTOM;
  const fields = [...IMPORT_FIELDS.map(([f]) => f), 'id', ...stages.map((st) => `reached ${st} at`)];
  const find = (k) => fields.find((f) => squash(f) === k) || ALIASES[k] || null;
  let field = find(key);
  if (!field) {
    // Pipedrive prefixes its columns ("Person - Email - Work"); "Person - ID" is its own number, not a lead id.
    const rest = ['person', 'contact'].map((p) => (key.startsWith(p) ? key.slice(p.length) : null)).find(Boolean);
    const f = rest ? find(rest) : null;
    if (f && f !== 'id' && f !== 'lead_id') field = f;
  }
  return field === 'id' ? 'lead_id' : field || CUSTOM;
}

/** Each column's field (first column for a field takes it), as guessField says. */
export function guessMapping(columns, stages = []) {
  const taken = new Set();
  return columns.map((c) => {
    const f = guessField(c, stages);
    if (!f || taken.has(f)) return CUSTOM;
    taken.add(f);
    return f;
  });
}

const csvName = (v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** Where the header record of a CSV text ends (past its line break; quotes may hold line breaks). */
export function headerEnd(text) {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) return text[i] === '\r' && text[i + 1] === '\n' ? i + 2 : i + 1;
  }
  return text.length;
}

/** The CSV text with its header row replaced by the mapped names (a column kept as custom data keeps its name). */
export function remapCsv(text, columns, mapping) {
  const body = text.replace(/^\uFEFF/, '');
  let start = 0;
  // Blank lines before the header are skipped by the server too.
  while (start < body.length && (body[start] === '\n' || body[start] === '\r')) start++;
  const end = headerEnd(body.slice(start)) + start;
  const names = columns.map((c, i) => mapping[i] || c);
  return `${names.map(csvName).join(',')}\n${body.slice(end)}`;
}

/** The first `n` records of a CSV text (RFC 4180 quotes, line breaks inside quotes). */
export function csvRecords(text, n) {
  const rows = [];
  let row = []; let field = ''; let quoted = false;
  for (let i = 0; i < text.length && rows.length < n; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  if (rows.length < n && (field !== '' || row.length)) { row.push(field); if (row.some((f) => f !== '')) rows.push(row); }
  return rows;
}

/** Preview of a file's start: {format, columns, rows} (rows of cells), the first `n` data rows. */
export function previewOf(text, n = PREVIEW_ROWS) {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('{')) {
    const objs = body.split(/\r?\n/).filter((l) => l.trim()).slice(0, n).map((l) => { try { return JSON.parse(l); } catch { return { '(not JSON)': l }; } });
    const columns = [...new Set(objs.flatMap((o) => (o && typeof o === 'object' ? Object.keys(o) : [])))];
    const cell = (v) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    return { format: 'jsonl', columns, rows: objs.map((o) => columns.map((c) => cell(o && o[c]))) };
  }
  const [columns = [], ...rows] = csvRecords(body, n + 1);
  return { format: 'csv', columns, rows };
}

export function renderImport(root, ctx) {
  ctx.setTitle('Import leads', 'Bring your history from another tool: CSV with a header row, or JSON lines');
  ctx.setActions();
  const input = h('input', { class: 'file-input', type: 'file', id: 'import-file', accept: '.csv,.jsonl,.ndjson,text/csv,application/x-ndjson', 'aria-describedby': 'import-help' });
  const mappingHost = h('div', { class: 'import-mapping', 'data-testid': 'import-mapping' });
  const preview = h('div', { class: 'import-preview', 'data-testid': 'import-preview' });
  const report = h('div', { class: 'import-report', 'data-testid': 'import-report', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { class: 'btn btn-primary', type: 'button', disabled: true, 'data-testid': 'import-run' }, icon('upload'), 'Import');
  const problem = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'import-problem' });
  let file = null;
  let csv = null; // {columns, rows, mapping} for a CSV file
  let stages = [];
  loadStages().then((s) => { stages = s; }).catch(() => { /* the guesses then skip "reached <Stage> at" */ });

  function drawPreview(p) {
    const names = csv ? p.columns.map((c, i) => csv.mapping[i] || c) : p.columns;
    const table = h('table', { class: 'table import-table' },
      h('thead', {}, h('tr', {}, ...names.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...p.rows.map((r) => h('tr', {}, ...p.columns.map((_, i) => h('td', {}, r[i] || ''))))));
    setContent(preview,
      h('h3', { class: 'import-step' }, 'Preview'),
      h('p', { class: 'muted small' }, `${file.name}: ${p.format === 'csv' ? 'CSV' : 'JSON lines'}, first ${p.rows.length} row(s)${csv ? ', with the names they are imported as' : ''}`),
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Preview of the first rows' }, table));
  }

  function checkMapping() {
    const named = csv ? csv.mapping.some((f) => f === 'email' || f === 'lead_id') : true;
    setContent(problem, named ? null : 'Map a column to Email (or to Leadpipe lead id): each row needs one to say which lead it is.');
    button.disabled = !file || !named;
  }

  function drawMapping(p) {
    const options = [[CUSTOM, 'Keep as custom data'], ...IMPORT_FIELDS, ...stages.map((st) => [`reached ${st} at`, `Reached ${st} at`])];
    const rows = p.columns.map((c, i) => {
      const id = `map-${i}`;
      const sel = h('select', { class: 'select', id, 'data-column': c },
        options.map(([v, label]) => h('option', { value: v, selected: v === csv.mapping[i] }, label)));
      sel.addEventListener('change', () => {
        // One column per field: a field picked here is taken from any other column that had it.
        if (sel.value) csv.mapping = csv.mapping.map((f, j) => (j !== i && f === sel.value ? CUSTOM : f));
        csv.mapping[i] = sel.value;
        drawMapping(p);
        drawPreview(p);
        checkMapping();
        const again = document.getElementById(id);
        if (again) again.focus();
      });
      const samples = p.rows.slice(0, MAPPING_SAMPLES).map((r) => r[i] || '').filter(Boolean);
      return h('tr', {},
        h('th', { scope: 'row' }, h('label', { for: id, class: 'map-column' }, c)),
        h('td', { class: 'map-field' }, sel),
        h('td', { class: 'muted small map-samples' }, samples.length ? samples.join(' · ') : '(empty in the first rows)'));
    });
    setContent(mappingHost,
      h('h3', { class: 'import-step' }, 'Columns'),
      h('p', { class: 'muted small' }, 'Each column of the file and what it is imported as; guessed from its name (case and spaces do not matter). Columns kept as custom data are stored under their own name.'),
      h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Column mapping' },
        h('table', { class: 'table mapping-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Column in the file'), h('th', { scope: 'col' }, 'Import as'), h('th', { scope: 'col' }, 'First values'))),
          h('tbody', {}, rows))));
  }

  input.addEventListener('change', async () => {
    file = input.files && input.files[0];
    csv = null;
    setContent(report, null);
    setContent(mappingHost, null);
    setContent(problem, null);
    button.disabled = true;
    if (!file) { setContent(preview, null); return; }
    if (file.size > MAX_BYTES) {
      setContent(preview, h('p', { class: 'muted' }, `This file is ${(file.size / 1048576).toFixed(1)} MB: the dashboard imports up to 5 MB. Use the command line: leadpipe import ${file.name}`));
      return;
    }
    const text = await file.slice(0, 256 * 1024).text();
    const p = previewOf(text);
    if (p.format === 'csv') {
      csv = { columns: p.columns, mapping: guessMapping(p.columns, stages) };
      drawMapping(p);
    }
    drawPreview(p);
    checkMapping();
  });

  button.addEventListener('click', async () => {
    if (!file) return;
    button.disabled = true;
    setContent(report, h('p', { class: 'muted' }, 'Importing…'));
    const type = csv ? 'text/csv' : /\.(jsonl|ndjson)$/i.test(file.name) ? 'application/x-ndjson' : /\.csv$/i.test(file.name) ? 'text/csv' : 'application/octet-stream';
    try {
      const body = csv ? new Blob([remapCsv(await file.text(), csv.columns, csv.mapping)], { type: 'text/csv' }) : file;
      const r = await api.importLeads(body, type);
      const rejected = r.rejected || [];
      setContent(report, h('div', {},
        h('p', { 'data-testid': 'import-summary', class: 'import-summary' },
          `${r.imported} imported, ${r.updated} updated, ${r.unchanged} unchanged, ${r.rejected_total} rejected`),
        rejected.length ? h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Rejected rows' }, h('table', { class: 'table', 'data-testid': 'import-rejected' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Why it was rejected'))),
          h('tbody', {}, ...rejected.map((x) => h('tr', {}, h('td', {}, String(x.line)), h('td', { class: 'cell-error' }, x.error)))))) : null));
      toast(`Import done: ${r.imported} new lead(s)`);
    } catch (e) {
      setContent(report, h('p', { class: 'form-error', role: 'alert' }, e.message));
    } finally {
      button.disabled = false;
      checkMapping();
    }
  });

  root.append(h('section', { class: 'card import', 'aria-labelledby': 'import-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'import-title' }, 'Import a file')),
    h('div', { class: 'settings-body import-body' },
      h('div', { class: 'form-field' },
        h('label', { class: 'field-label', for: 'import-file' }, 'File to import (CSV with a header row, or JSON lines; up to 5 MB)'),
        input,
        h('p', { class: 'muted small', id: 'import-help' }, 'Columns: any postback field, created_at, and "reached <Stage> at" per stage (as the CSV export writes); exports of HubSpot, Pipedrive or Mailchimp work as they are. Rows are matched by lead id, then email: importing a file twice changes nothing.')),
      mappingHost, preview, problem,
      h('div', { class: 'form-actions' }, button),
      report)),
  spendImportCard());
  ctx.ready();
}
