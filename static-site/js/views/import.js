// Import: an admin picks a CSV (header row) or JSON-lines file, previews its first rows, imports it through
// POST /api/import and reads the report. Files over 5 MiB go through `leadpipe import FILE` instead.
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { setContent, toast } from '../ui.js';

const MAX_BYTES = 5 * 1024 * 1024;
const PREVIEW_ROWS = 10;

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
  const input = h('input', { type: 'file', id: 'import-file', accept: '.csv,.jsonl,.ndjson,text/csv,application/x-ndjson' });
  const preview = h('div', { class: 'import-preview', 'data-testid': 'import-preview' });
  const report = h('div', { class: 'import-report', 'data-testid': 'import-report', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { class: 'btn btn-primary', type: 'button', disabled: true, 'data-testid': 'import-run' }, icon('upload'), 'Import');
  let file = null;

  input.addEventListener('change', async () => {
    file = input.files && input.files[0];
    setContent(report, null);
    button.disabled = true;
    if (!file) { setContent(preview, null); return; }
    if (file.size > MAX_BYTES) {
      setContent(preview, h('p', { class: 'muted' }, `This file is ${(file.size / 1048576).toFixed(1)} MB: the dashboard imports up to 5 MB. Use the command line: leadpipe import ${file.name}`));
      return;
    }
    const text = await file.slice(0, 256 * 1024).text();
    const p = previewOf(text);
    const table = h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...p.columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...p.rows.map((r) => h('tr', {}, ...p.columns.map((_, i) => h('td', {}, r[i] || ''))))));
    setContent(preview, h('div', {},
      h('p', { class: 'muted' }, `${file.name}: ${p.format === 'csv' ? 'CSV' : 'JSON lines'}, first ${p.rows.length} row(s)`),
      h('div', { class: 'table-wrap', tabindex: '0', 'aria-label': 'Preview of the first rows' }, table)));
    button.disabled = false;
  });

  button.addEventListener('click', async () => {
    if (!file) return;
    button.disabled = true;
    setContent(report, h('p', { class: 'muted' }, 'Importing…'));
    const type = /\.(jsonl|ndjson)$/i.test(file.name) ? 'application/x-ndjson' : /\.csv$/i.test(file.name) ? 'text/csv' : 'application/octet-stream';
    try {
      const r = await api.importLeads(file, type);
      const rejected = r.rejected || [];
      setContent(report, h('div', {},
        h('p', { 'data-testid': 'import-summary' },
          `${r.imported} imported, ${r.updated} updated, ${r.unchanged} unchanged, ${r.rejected_total} rejected`),
        rejected.length ? h('table', { class: 'table', 'data-testid': 'import-rejected' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Why it was rejected'))),
          h('tbody', {}, ...rejected.map((x) => h('tr', {}, h('td', {}, String(x.line)), h('td', {}, x.error))))) : null));
      toast(`Import done: ${r.imported} new lead(s)`);
    } catch (e) {
      setContent(report, h('p', { class: 'error', role: 'alert' }, e.message));
    } finally {
      button.disabled = false;
    }
  });

  root.append(h('section', { class: 'card import' },
    h('label', { for: 'import-file' }, 'File to import (CSV with a header row, or JSON lines; up to 5 MB)'),
    input,
    h('p', { class: 'muted' }, 'Columns: any postback field, created_at, and "reached <Stage> at" per stage (as the CSV export writes). Rows are matched by lead id, then email: importing a file twice changes nothing.'),
    preview, button, report));
  ctx.ready();
}
