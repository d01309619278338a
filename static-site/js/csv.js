// CSV export helpers: RFC 4180 quoting plus spreadsheet formula-injection neutralising.

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
  ['first_touch_source', (l) => l.first_touch && l.first_touch.source],
  ['first_touch_campaign', (l) => l.first_touch && l.first_touch.campaign],
  ['first_touch_domain', (l) => l.first_touch && l.first_touch.domain],
  ['first_touch_utm_source', (l) => l.first_touch && l.first_touch.utm_source],
  ['first_touch_utm_medium', (l) => l.first_touch && l.first_touch.utm_medium],
  ['first_touch_utm_campaign', (l) => l.first_touch && l.first_touch.utm_campaign],
  ['first_touch_referrer', (l) => l.first_touch && l.first_touch.referrer],
  ['custom_data', (l) => (l.custom_data && Object.keys(l.custom_data).length ? JSON.stringify(l.custom_data) : '')],
];

/** Neutralise a cell a spreadsheet would treat as a formula, then quote it if needed. */
export function csvCell(value) {
  if (value === null || value === undefined) return '';
  let v = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  if (/[",\r\n]/.test(v)) v = `"${v.replace(/"/g, '""')}"`;
  return v;
}

export function toCsv(leads, columns = CSV_COLUMNS) {
  const lines = [columns.map(([name]) => csvCell(name)).join(',')];
  for (const lead of leads) lines.push(columns.map(([, get]) => csvCell(get(lead))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function downloadText(filename, text, type = 'text/csv;charset=utf-8') {
  // A BOM makes Excel read the file as UTF-8.
  const blob = new Blob(['\ufeff', text], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; // blob: URL created here, never lead data
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  setTimeout(() => { a.remove(); URL.revokeObjectURL(url); }, 1000);
}
