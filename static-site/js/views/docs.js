// API Documentation, generated at run time from /api/openapi.json and /api/stages.
import { h, icon } from '../dom.js';
import { api, apiBase, loadStages } from '../api.js';
import { loading, errorState, setContent, stageChip, toast } from '../ui.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export function renderDocs(root, ctx) {
  ctx.setTitle('API Documentation', 'Send leads from any landing page with one HTTP call');
  ctx.setActions();
  const body = h('div', { class: 'docs' });
  root.append(body);

  async function load() {
    setContent(body, loading('Loading the API description…'));
    let spec; let stages;
    try {
      [spec, stages] = await Promise.all([api.openapi(), loadStages(true)]);
      if (!spec || typeof spec !== 'object' || !spec.paths || typeof spec.paths !== 'object') {
        throw new Error('The API description (openapi.json) is malformed.');
      }
    } catch (e) {
      if (e.status === 401) return;
      setContent(body, errorState(new Error(`The API documentation could not be loaded: ${e.message}`), load));
      ctx.ready();
      return;
    }
    if (!root.isConnected) return;
    setContent(body, render(spec, stages));
    ctx.ready();
  }
  load();
}

function fullPath(spec, path) {
  if (path.startsWith('/api/') || path === '/api') return path;
  const server = Array.isArray(spec.servers) && spec.servers[0] && typeof spec.servers[0].url === 'string' ? spec.servers[0].url : '';
  const m = /^(?:https?:\/\/[^/]+)?(\/[^?#]*)?/.exec(server);
  const prefix = m && m[1] ? m[1].replace(/\/+$/, '') : '';
  return prefix + path;
}

function deref(spec, obj, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 8) return obj || {};
  if (typeof obj.$ref === 'string' && obj.$ref.startsWith('#/')) {
    const target = obj.$ref.slice(2).split('/').reduce((o, k) => (o ? o[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), spec);
    return deref(spec, { ...target, ...Object.fromEntries(Object.entries(obj).filter(([k]) => k !== '$ref')) }, depth + 1);
  }
  return obj;
}

function typeOf(spec, schema) {
  const sc = deref(spec, schema);
  let types = [];
  if (Array.isArray(sc.type)) types = sc.type;
  else if (sc.type) types = [sc.type];
  for (const key of ['anyOf', 'oneOf']) {
    if (Array.isArray(sc[key])) types.push(...sc[key].map((x) => typeOf(spec, x)));
  }
  if (!types.length && sc.properties) types = ['object'];
  if (!types.length && sc.enum) types = ['enum'];
  const nonNull = [...new Set(types.filter((t) => t && t !== 'null'))];
  let t = nonNull.join(' | ') || (types.includes('null') ? 'null' : 'any');
  if (t === 'array' && sc.items) t = `array of ${typeOf(spec, sc.items)}`;
  return t;
}

function describe(spec, schema) {
  const sc = deref(spec, schema);
  const parts = [];
  if (sc.description) parts.push(sc.description);
  else if (sc.title) parts.push(sc.title);
  const extra = [];
  if (Array.isArray(sc.enum)) extra.push(`One of: ${sc.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  if (sc.minimum !== undefined && sc.maximum !== undefined) extra.push(`Range ${sc.minimum}–${sc.maximum}`);
  else if (sc.minimum !== undefined) extra.push(`Minimum ${sc.minimum}`);
  else if (sc.maximum !== undefined) extra.push(`Maximum ${sc.maximum}`);
  if (sc.maxLength !== undefined) extra.push(`Max ${sc.maxLength} characters`);
  if (sc.format) extra.push(`Format: ${sc.format}`);
  return [...parts, ...extra].map((x) => String(x).trim().replace(/\.+$/, '')).filter(Boolean).join('. ');
}

function operations(spec) {
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    if (!item || typeof item !== 'object') continue;
    for (const m of METHODS) {
      if (item[m]) ops.push({ method: m.toUpperCase(), path, full: fullPath(spec, path), op: item[m], shared: item.parameters || [] });
    }
  }
  return ops;
}

function headerRows(spec, op) {
  const rows = [];
  const jsonBody = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
  if (jsonBody) rows.push({ name: 'Content-Type', value: 'application/json', note: 'Required.' });
  const security = op.security || spec.security || [];
  const optional = security.some((req) => req && Object.keys(req).length === 0);
  const schemes = (spec.components && spec.components.securitySchemes) || {};
  const seen = new Set();
  const keyRows = new Map();
  for (const req of security) {
    for (const name of Object.keys(req || {})) {
      const sch = schemes[name];
      if (!sch || sch.type !== 'apiKey' || sch.in !== 'header') continue;
      let row = keyRows.get(sch.name);
      if (!row) {
        row = { name: sch.name, value: 'YOUR_API_KEY', notes: [] };
        keyRows.set(sch.name, row);
        rows.push(row);
        seen.add(sch.name);
      }
      if (sch.description) row.notes.push(sch.description);
    }
  }
  for (const row of keyRows.values()) {
    row.note = `${optional ? 'Optional. ' : ''}${row.notes.join(' ')}`.trim();
    delete row.notes;
  }
  for (const p of op.parameters || []) {
    const param = deref(spec, p);
    if (param.in === 'header' && !seen.has(param.name)) {
      seen.add(param.name);
      rows.push({ name: param.name, value: param.example !== undefined ? String(param.example) : '…', note: `${param.required ? 'Required. ' : 'Optional. '}${param.description || ''}` });
    }
  }
  return rows;
}

function render(spec, stages) {
  const ops = operations(spec);
  const postback = ops.find((o) => o.method === 'POST' && /\/postback\/?$/.test(o.path))
    || ops.find((o) => o.method === 'POST' && o.op.requestBody);
  const base = apiBase();
  const out = [];

  const info = spec.info || {};
  out.push(h('section', { class: 'card docs-intro' },
    h('div', { class: 'docs-intro-text' },
      h('h2', {}, info.title || 'Leadpipe API'),
      info.description ? h('p', {}, info.description) : null,
      h('p', { class: 'muted' }, 'API base URL: ', h('code', { class: 'code-inline', 'data-testid': 'api-base' }, base),
        info.version ? ` · version ${info.version}` : '')),
  ));

  out.push(keysSection(base));

  if (!postback) {
    out.push(h('section', { class: 'card' }, errorState(new Error('The API description has no postback endpoint.'))));
  } else {
    const op = postback.op;
    const url = base + postback.full;
    const bodySchema = deref(spec, op.requestBody && op.requestBody.content && op.requestBody.content['application/json']
      ? op.requestBody.content['application/json'].schema : {});
    const required = new Set(Array.isArray(bodySchema.required) ? bodySchema.required : []);
    const props = Object.entries(bodySchema.properties || {});

    out.push(h('section', { class: 'card docs-section', id: 'postback' },
      h('h2', {}, 'Postback Endpoint'),
      h('p', {}, op.description || op.summary || 'Send a POST request to create or update a lead.'),
      h('div', { class: 'endpoint' }, methodBadge('POST'), h('code', { class: 'endpoint-path' }, postback.full)),
      h('h3', {}, 'Headers'),
      codeBlock(headerRows(spec, op).map((r) => `${r.name}: ${r.value}`).join('\n'), 'Headers'),
      h('ul', { class: 'header-notes' }, headerRows(spec, op).filter((r) => r.note).map((r) => h('li', {}, h('code', {}, r.name), ' — ', r.note))),
      h('h3', {}, 'Body Fields'),
      props.length
        ? h('div', { class: 'table-scroll' }, h('table', { class: 'table docs-table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Field'), h('th', {}, 'Type'), h('th', {}, 'Description'))),
          h('tbody', {}, props.map(([name, sch]) => h('tr', { 'data-field': name },
            h('td', {}, h('code', {}, name), required.has(name) ? h('span', { class: 'badge badge-warn' }, 'required') : null),
            h('td', {}, h('span', { class: 'type' }, typeOf(spec, sch))),
            h('td', {}, describe(spec, sch) || h('span', { class: 'muted' }, '—')))))))
        : h('p', { class: 'muted' }, 'The API description lists no body fields.')));

    out.push(h('section', { class: 'card docs-section', id: 'stages' },
      h('h2', {}, 'Pipeline Stages (in order)'),
      h('p', { class: 'muted' }, 'Leads only move forward through these stages unless you send "force_stage": true.'),
      stages.length
        ? h('ol', { class: 'stage-list' }, stages.map((st, i) => h('li', {}, h('span', { class: 'stage-num' }, String(i + 1)), stageChip(st, stages))))
        : h('p', { class: 'muted' }, 'No stages configured.')));

    const keyHeader = headerRows(spec, op).find((r) => r.value === 'YOUR_API_KEY');
    out.push(h('section', { class: 'card docs-section', id: 'examples' },
      examples(spec, op, stages).flatMap((ex) => [
        h('h2', {}, `Example — ${ex.title}`),
        codeBlock(curl(url, ex.body, keyHeader), `Example — ${ex.title}`)])));
  }

  const others = ops.filter((o) => o !== postback);
  out.push(h('section', { class: 'card docs-section', id: 'endpoints' },
    h('h2', {}, 'Other Endpoints'),
    others.length
      ? h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Other endpoints' }, h('table', { class: 'table docs-table endpoints-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Method'), h('th', {}, 'Path'), h('th', {}, 'Description'))),
        h('tbody', {}, others.map((o) => {
          const params = [...o.shared, ...(o.op.parameters || [])].map((p) => deref(spec, p)).filter((p) => p.in === 'query');
          return h('tr', {},
            h('td', {}, methodBadge(o.method)),
            h('td', {}, h('code', {}, o.full)),
            h('td', {}, o.op.summary || o.op.description || '',
              params.length ? h('div', { class: 'muted small' }, 'Query: ', params.map((p) => p.name).join(', ')) : null));
        }))))
      : h('p', { class: 'muted' }, 'No other endpoints are described.')));
  return out;
}

/** Request examples from the spec (requestBody examples); the seed's two examples when it has none. */
function examples(spec, op, stages) {
  const media = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
  const out = [];
  if (media && media.examples && typeof media.examples === 'object') {
    for (const [name, ex] of Object.entries(media.examples)) {
      const e = deref(spec, ex);
      if (e && e.value && typeof e.value === 'object') out.push({ title: e.summary || (e.value.stage ? String(e.value.stage) : name), body: e.value });
    }
  } else if (media && media.example && typeof media.example === 'object') {
    out.push({ title: media.example.stage ? String(media.example.stage) : 'Postback', body: media.example });
  }
  // In pipeline order (a served document may list its examples alphabetically).
  const at = (ex) => { const i = stages.indexOf(ex.body.stage); return i < 0 ? stages.length : i; };
  if (out.length) return out.map((ex, i) => ({ ex, i })).sort((a, b) => at(a.ex) - at(b.ex) || a.i - b.i).map((x) => x.ex);
  const started = stages.find((s) => s.toLowerCase() === 'form started') || stages[1] || stages[0] || 'Form Started';
  const submitted = stages.find((s) => s.toLowerCase() === 'application submitted') || stages[2] || stages[stages.length - 1] || 'Application Submitted';
  return [
    {
      title: started,
      body: {
        email: 'john@example.com', first_name: 'John', stage: started, source: 'google', domain: 'myeinregistry.com',
        campaign: 'llc-spring-2026', utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'llc-spring-2026',
        ip_address: '192.168.1.1', browser: 'Chrome 124', device_type: 'desktop', form_completion_percent: 10, form_fields_total: 12,
      },
    },
    { title: submitted, body: { email: 'john@example.com', stage: submitted, form_completion_percent: 100, form_fields_completed: 12, form_fields_total: 12 } },
  ];
}

function methodBadge(m) {
  return h('span', { class: `method method-${m.toLowerCase()}` }, m);
}

function curl(url, body, keyHeader) {
  const json = JSON.stringify(body, null, 2).split('\n').map((l, i) => (i ? `  ${l}` : l)).join('\n');
  const lines = [`curl -X POST ${shellQuote(url)} \\`, '  -H "Content-Type: application/json" \\'];
  if (keyHeader) lines.push(`  -H "${keyHeader.name}: YOUR_API_KEY" \\`);
  lines.push(`  -d '${json.replace(/'/g, "'\\''")}'`);
  return lines.join('\n');
}

function shellQuote(s) {
  return /^[A-Za-z0-9_:/.\-[\]]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

function codeBlock(text, label, testid) {
  const pre = h('pre', { class: 'code', tabindex: '0', 'aria-label': label, 'data-testid': testid }, h('code', {}, text));
  const btn = h('button', { class: 'btn btn-ghost btn-sm copy-btn', type: 'button', 'aria-label': `Copy ${label}`, onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast('Copied to clipboard', 'success');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(pre);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      toast('Press Ctrl+C to copy', 'info');
    }
  } }, icon('copy'), 'Copy');
  return h('div', { class: 'code-wrap' }, btn, pre);
}

/** The documented browser snippet: PUBLIC_API_KEY in the `key` query parameter, the body sent as text/plain. */
export function beaconSnippet(base) {
  return `// On your landing page (PUBLIC_API_KEY only: never API_KEY or ADMIN_API_KEY in a page).
// sendBeacon cannot set headers, so the browser key goes in the key query parameter;
// a string body is sent as text/plain, which the postback endpoint accepts.
navigator.sendBeacon('${base}/api/postback?key=PUBLIC_API_KEY', JSON.stringify({
  email: 'visitor@example.com',
  first_name: 'Ada',
  source: 'google',
  campaign: 'spring-sale',
  form_completion_percent: 100,
}));`;
}

function keysSection(base) {
  const row = (name, who, can, how) => h('tr', {},
    h('th', { scope: 'row' }, h('code', {}, name)), h('td', {}, who), h('td', {}, can), h('td', {}, how));
  return h('section', { class: 'card docs-section', id: 'keys' },
    h('h2', {}, 'Keys, browser pages and the postback log'),
    h('p', {}, 'Leadpipe has three keys. Each is sent as the ', h('code', {}, 'x-api-key'), ' header; they must all differ.'),
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'API keys' },
      h('table', { class: 'table docs-table' },
        h('thead', {}, h('tr', {}, ['Key', 'Where it lives', 'What it can do', 'How it is sent'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {},
          row('API_KEY', 'Your servers only (CRM, payment webhooks, back ends). A secret: never put it in a page.',
            'Create and update any lead, any field, any stage; force_stage moves backwards. The answer (201 created / 200 updated) carries lead_id, created, stage, stage_changed and warnings.',
            'x-api-key header.'),
          row('PUBLIC_API_KEY', 'Landing pages: assume anyone can read it.',
            ['Create leads; on an existing lead only fill empty fields, add new custom_data keys (up to 25 keys and 2 KB of its own, so server data always fits), raise form progress while the lead is not past PUBLIC_MAX_STAGE, and move the stage forward up to PUBLIC_MAX_STAGE. It cannot overwrite a field, change an email, move a lead backwards, or read, list or delete anything. The answer is always ',
              h('code', {}, '202 {"token", "warnings"}'), ', the same for a new and an existing email.'],
            ['x-api-key header, or the ', h('code', {}, 'key'), ' query parameter of POST /api/postback (for sendBeacon).']),
          row('ADMIN_API_KEY', 'The dashboard (this page asks for it) and admin tools.',
            'Everything: list, read, move, release and delete leads, analytics, the postback log.',
            'x-api-key header only — never in a URL.')))),
    h('h3', {}, 'The key query parameter'),
    h('p', {}, h('code', {}, 'POST /api/postback?key=PUBLIC_API_KEY'), ' is accepted for the browser key only, because ',
      h('code', {}, 'navigator.sendBeacon'), ' cannot set headers. No other key is accepted from a URL.'),
    h('h3', {}, 'Sending leads from a page with sendBeacon'),
    h('p', {}, 'Replace PUBLIC_API_KEY with your browser key. The body is a JSON string, which sendBeacon sends as ',
      h('code', {}, 'text/plain'), '; the beacon survives the page being closed.'),
    codeBlock(beaconSnippet(base), 'sendBeacon example', 'beacon-snippet'),
    h('h3', {}, 'The token'),
    h('p', {}, 'A browser-key postback answers ', h('code', {}, '{"token": "…", "warnings": [...]}'),
      '. The token is opaque and sealed: it reveals nothing about the lead and cannot be forged. Send it back as ',
      h('code', {}, 'token'), ' in the body of the visit\'s later postbacks (for example as the form progresses) so they update the same lead. With sendBeacon you cannot read the answer; use fetch with ',
      h('code', {}, 'keepalive: true'), ' when you need the token.'),
    h('h3', {}, 'Warnings'),
    h('p', {}, 'A postback that identifies a lead is never dropped for a bad field. Over-long strings are truncated, invalid optional fields dropped, unknown fields moved into custom_data, and what the browser key may not change is left as it is. Each of these is listed in the 2xx answer as ',
      h('code', {}, 'warnings: [{"field", "code", "message"}]'), ' with code one of ',
      ['truncated', 'cleaned', 'dropped', 'moved_to_custom_data', 'not_allowed', 'conflict'].flatMap((c, i) => [i ? ', ' : '', h('code', {}, c)]), '.'),
    h('h3', {}, 'Why is my lead missing? GET /api/postbacks'),
    h('p', {}, 'Only a postback that cannot be a lead is refused: not JSON, not an object, over 64 KiB, an unsupported content type or a bad key. Each refusal is kept for POSTBACK_LOG_DAYS (default 30) with its reason and the first 2 KB of its body. Postbacks that look like bots (honeypot field, bot user agent, too many new leads from one address) are stored but quarantined: out of analytics and the board until an admin releases them.'),
    h('p', {}, h('code', {}, 'GET /api/postbacks?status=rejected'), ' (or ', h('code', {}, 'status=quarantined'),
      ') with the admin key lists them newest first, with ', h('code', {}, 'limit'), ' and ', h('code', {}, 'cursor'),
      ' (pass next_cursor back). The same log is on the ', h('a', { href: '#/postbacks' }, 'Postback Log'), ' screen; quarantined leads are under the Quarantine filter of ',
      h('a', { href: '#/leads?quarantine=only' }, 'All Leads'), ' and ', h('code', {}, 'POST /api/leads/{id}/release'), ' releases one.'));
}
