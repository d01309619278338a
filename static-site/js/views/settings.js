// Settings → Webhooks: add, list, enable and delete webhooks (admin key), see each one's deliveries and retry
// failed ones. The signing secret is shown once, right after creation (the API never shows it again).
// Everything from the API (URLs, reasons, errors an endpoint answered) is untrusted text: set as text nodes only.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { dateTime, ago, num } from '../format.js';
import { loading, empty, errorState, setContent, toast, confirmDialog } from '../ui.js';
import { ratesCard } from './spend.js';

const EVENTS = [
  { value: 'lead.created', label: 'Lead created', help: 'A new lead arrives (or is released from quarantine).' },
  { value: 'lead.stage_changed', label: 'Stage changed', help: 'A lead moves to another stage.' },
  { value: 'lead.deleted', label: 'Lead deleted', help: 'A lead is deleted.' },
];
const FORMATS = [
  { value: 'standard', label: 'Standard (Leadpipe event JSON)' },
  { value: 'meta_capi', label: 'Meta Conversions API' },
  { value: 'ga4', label: 'Google Analytics 4 (Measurement Protocol)' },
  { value: 'tiktok', label: 'TikTok Events API' },
];
const FORMAT_LABELS = Object.fromEntries(FORMATS.map((f) => [f.value, f.label.replace(/ \(.*\)$/, '')]));
const STATE_CLASS = { delivered: 'badge badge-ok', pending: 'badge badge-warn', failed: 'badge badge-danger' };
const DELIVERY_PAGE = 20;

export function renderSettings(root, ctx) {
  ctx.setTitle('Settings', 'Webhooks: send lead events to your CRM, Slack or ad platforms; exchange rates');
  const refreshBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh-webhooks', 'aria-label': 'Refresh', onclick: () => load() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(refreshBtn);

  const secretHost = h('div', { 'data-testid': 'webhook-secret-host' });
  const listHost = h('div', { class: 'webhook-list', 'data-testid': 'webhook-list' });
  const listStatus = h('p', { class: 'muted small webhook-count', role: 'status', 'aria-live': 'polite' });
  const form = addForm();
  root.append(
    secretHost,
    h('section', { class: 'card settings-card', 'aria-labelledby': 'webhooks-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'webhooks-title' }, 'Webhooks'),
        h('p', { class: 'card-sub' }, 'Each lead event is POSTed to your URL, signed per the Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature), and retried with backoff for at least 24 hours until your endpoint answers 2xx.')),
      h('div', { class: 'settings-body' }, listStatus, listHost)),
    form.section,
    ratesCard());

  let seq = 0;
  async function load() {
    const me = ++seq;
    ctx.busy();
    setContent(listHost, loading('Loading webhooks…'));
    let res;
    try {
      res = await api.webhooks();
    } catch (e) {
      if (me !== seq || !ctx.isCurrent()) return;
      if (e.status === 401) return; // the app shows the sign-in screen
      setContent(listStatus, '');
      setContent(listHost, errorState(e.status === 403
        ? new Error('Webhooks need the admin key. Sign out and sign in with ADMIN_API_KEY.') : e, load));
      ctx.ready();
      return;
    }
    if (me !== seq || !ctx.isCurrent()) return;
    const hooks = res && Array.isArray(res.webhooks) ? res.webhooks : [];
    listStatus.textContent = hooks.length ? `${num(hooks.length)} webhook${hooks.length === 1 ? '' : 's'}` : '';
    if (!hooks.length) {
      setContent(listHost, empty('No webhooks yet', 'Add one below to send lead events to another tool.'));
    } else {
      setContent(listHost, h('ul', { class: 'webhook-items' }, hooks.map(webhookItem)));
    }
    ctx.ready();
  }

  function webhookItem(w) {
    const id = String(w.id || '');
    const events = Array.isArray(w.events) ? w.events.map(String) : [];
    const stages = Array.isArray(w.stages) ? w.stages.map(String) : null;
    const health = w.health || {};
    const panelId = `deliveries-${id}`;
    const panel = h('div', { class: 'deliveries-panel', id: panelId, hidden: true, 'data-testid': 'deliveries-panel' });
    const toggle = h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'toggle-deliveries', 'aria-expanded': 'false', 'aria-controls': panelId },
      'Deliveries');
    let deliveries = null;
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      panel.hidden = !open;
      if (open) {
        if (!deliveries) deliveries = deliveriesPanel(panel, w);
        else deliveries.reload();
      }
    });
    const enableBtn = w.enabled ? null : h('button', { class: 'btn btn-primary btn-sm', type: 'button', 'data-action': 'enable-webhook',
      onclick: async (e) => {
        e.currentTarget.disabled = true;
        try {
          await api.enableWebhook(id);
          toast('Webhook enabled');
          load();
        } catch (err) {
          e.currentTarget.disabled = false;
          toast(err.message, 'error');
        }
      } }, 'Enable');
    const deleteBtn = h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', 'data-action': 'delete-webhook', 'aria-label': `Delete webhook ${w.url}` },
      icon('trash'), 'Delete');
    deleteBtn.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: 'Delete this webhook?',
        body: h('div', {}, h('p', { class: 'mono url-text' }, String(w.url || '')),
          h('p', {}, 'Its pending deliveries will never be sent, and its delivery history is deleted.')),
        confirmLabel: 'Delete webhook',
        danger: true,
      });
      if (!ok) return;
      try {
        await api.deleteWebhook(id);
        toast('Webhook deleted');
      } catch (err) {
        if (err.status !== 404) { toast(err.message, 'error'); return; }
      }
      load();
      const heading = document.getElementById('webhooks-title');
      if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus(); }
    });
    const healthText = health.failing_since
      ? `Failing since ${dateTime(health.failing_since)} (${num(health.failures || 0)} failed attempt${health.failures === 1 ? '' : 's'})`
      : health.last_success_at ? `Healthy · last delivered ${ago(health.last_success_at)}` : 'No deliveries yet';
    return h('li', { class: 'webhook-item', 'data-webhook-id': id, 'data-enabled': String(Boolean(w.enabled)) },
      h('div', { class: 'webhook-main' },
        h('div', { class: 'webhook-url mono', 'data-testid': 'webhook-url' }, String(w.url || '')),
        h('div', { class: 'webhook-meta' },
          w.enabled
            ? h('span', { class: 'badge badge-ok', 'data-testid': 'webhook-status' }, 'Enabled')
            : h('span', { class: 'badge badge-danger', 'data-testid': 'webhook-status' }, 'Disabled'),
          h('span', { class: 'badge' }, FORMAT_LABELS[w.format] || String(w.format || 'standard')),
          events.map((e) => h('span', { class: 'badge badge-plain' }, e))),
        h('dl', { class: 'webhook-facts small' },
          h('div', {}, h('dt', {}, 'Stages'), h('dd', {}, stages ? stages.join(', ') : 'All stages')),
          w.event_source_id ? h('div', {}, h('dt', {}, 'Pixel code'), h('dd', { class: 'mono' }, String(w.event_source_id))) : null,
          w.consent ? h('div', {}, h('dt', {}, 'Consent'), h('dd', { 'data-testid': 'webhook-consent' },
            w.consent === 'not_required' ? 'Not required (recorded elsewhere)' : 'Only leads with ad_user_data consent')) : null,
          h('div', {}, h('dt', {}, 'Health'), h('dd', { 'data-testid': 'webhook-health' }, healthText)),
          h('div', {}, h('dt', {}, 'Created'), h('dd', {}, dateTime(w.created_at)))),
        w.enabled ? null : h('p', { class: 'webhook-reason small', 'data-testid': 'webhook-reason' },
          icon('alert'), h('span', {}, `Disabled: ${w.disabled_reason ? String(w.disabled_reason) : 'no reason recorded'}. Fix the endpoint, then enable it; failed deliveries can be retried one by one.`))),
      h('div', { class: 'webhook-actions' }, toggle, enableBtn, deleteBtn),
      panel);
  }

  function deliveriesPanel(panel, w) {
    const id = String(w.id);
    const host = h('div', { class: 'table-host' });
    const status = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
    const more = h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'more-deliveries', hidden: true }, 'Load more');
    const refresh = h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'refresh-deliveries' }, icon('refresh'), 'Refresh');
    panel.append(h('div', { class: 'deliveries-toolbar' }, h('h3', { class: 'deliveries-title' }, 'Deliveries, newest first'), refresh), status, host, more);
    let rows = [];
    let next = null;
    let pseq = 0;
    async function fetchPage(reset) {
      const me = ++pseq;
      if (reset) { rows = []; next = null; setContent(host, loading('Loading deliveries…')); }
      more.disabled = true;
      try {
        const res = await api.deliveries(id, { limit: DELIVERY_PAGE, after: reset ? undefined : next });
        if (me !== pseq) return;
        rows = rows.concat(Array.isArray(res && res.deliveries) ? res.deliveries : []);
        next = res && res.next_after ? res.next_after : null;
      } catch (e) {
        if (me !== pseq) return;
        if (e.status === 401) return;
        setContent(host, errorState(e, () => fetchPage(true)));
        return;
      } finally {
        if (me === pseq) more.disabled = false;
      }
      draw();
    }
    function draw() {
      more.hidden = !next;
      status.textContent = rows.length ? `${num(rows.length)} deliver${rows.length === 1 ? 'y' : 'ies'} shown` : '';
      if (!rows.length) {
        setContent(host, empty('No deliveries yet', 'A delivery appears here when a lead event this webhook subscribes to happens.'));
        return;
      }
      setContent(host, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `Deliveries to ${w.url}` },
        h('table', { class: 'table deliveries-table' },
          h('thead', {}, h('tr', {}, ['Event', 'State', 'Attempts', 'Last answer', 'Last error', 'Times', 'Action'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, rows.map(row)))));
    }
    function row(d) {
      const state = String(d.state || '');
      const retryable = w.enabled && (state === 'failed' || state === 'pending');
      const retry = retryable ? h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'retry-delivery', 'aria-label': `Retry delivery of ${d.event_type} created ${dateTime(d.created_at)}` }, 'Retry') : null;
      if (retry) {
        retry.addEventListener('click', async () => {
          retry.disabled = true;
          try {
            const updated = await api.retryDelivery(id, String(d.id));
            rows = rows.map((r) => (r.id === updated.id ? updated : r));
            toast('Delivery queued for another attempt');
            draw();
          } catch (e) {
            retry.disabled = false;
            toast(e.message, 'error');
          }
        });
      }
      return h('tr', { 'data-delivery-id': String(d.id || ''), 'data-state': state },
        h('td', { 'data-label': 'Event' }, h('div', {}, String(d.event_type || '')), h('div', { class: 'muted small mono' }, String(d.message_id || ''))),
        h('td', { 'data-label': 'State' }, h('span', { class: STATE_CLASS[state] || 'badge' }, state || '—')),
        h('td', { 'data-label': 'Attempts' }, num(d.attempts || 0)),
        h('td', { 'data-label': 'Last answer' }, d.last_response_code ? `HTTP ${d.last_response_code}` : '—'),
        h('td', { 'data-label': 'Last error', class: 'cell-error' }, d.last_error ? String(d.last_error) : '—'),
        h('td', { 'data-label': 'Times', class: 'small' },
          h('div', {}, `Created ${dateTime(d.created_at)}`),
          d.last_attempt_at ? h('div', {}, `Last attempt ${dateTime(d.last_attempt_at)}`) : null,
          d.next_attempt_at ? h('div', {}, `Next attempt ${dateTime(d.next_attempt_at)}`) : null),
        h('td', { 'data-label': 'Action' }, retry || h('span', { class: 'muted' }, '—')));
    }
    more.addEventListener('click', () => fetchPage(false));
    refresh.addEventListener('click', () => fetchPage(true));
    fetchPage(true);
    return { reload: () => fetchPage(true) };
  }

  function showSecret(created) {
    const secret = String(created.secret || '');
    const field = h('input', { class: 'input mono secret-value', id: 'webhook-secret', type: 'text', readonly: true, value: secret, 'data-testid': 'webhook-secret', spellcheck: 'false', autocomplete: 'off' });
    const copied = h('span', { class: 'small muted', role: 'status', 'aria-live': 'polite' });
    const copy = h('button', { class: 'btn btn-primary', type: 'button', 'data-action': 'copy-secret' }, icon('copy'), 'Copy secret');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copied.textContent = 'Copied.';
      } catch {
        field.focus();
        field.select();
        copied.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
      }
    });
    const done = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'dismiss-secret' }, 'I have stored it');
    const title = h('h2', { id: 'secret-title', tabindex: '-1' }, 'Webhook added: copy its signing secret now');
    const box = h('section', { class: 'card secret-card', 'aria-labelledby': 'secret-title', 'data-testid': 'webhook-secret-card' },
      h('div', { class: 'card-head' }, title,
        h('p', { class: 'card-sub' }, 'For ', h('span', { class: 'mono url-text' }, String(created.url || '')))),
      h('div', { class: 'settings-body' },
        h('p', { class: 'secret-warning', role: 'note' }, icon('alert'), h('strong', {}, "You won't see this secret again."),
          ' Store it where your receiver can read it: it verifies each delivery\'s webhook-signature header. If you lose it, delete the webhook and add it again.'),
        h('label', { class: 'field-label', for: 'webhook-secret' }, 'Signing secret'),
        h('div', { class: 'secret-row' }, field, copy),
        copied,
        h('div', { class: 'secret-actions' }, done)));
    done.addEventListener('click', () => {
      setContent(secretHost, null);
      const heading = document.getElementById('webhooks-title');
      if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus(); }
    });
    setContent(secretHost, box);
    title.focus();
  }

  function addForm() {
    const errors = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'webhook-form-error' });
    const url = h('input', { class: 'input', id: 'wh-url', name: 'url', type: 'url', required: true, placeholder: 'https://hooks.example.com/leadpipe', autocomplete: 'off', 'aria-describedby': 'wh-url-help' });
    const eventBoxes = EVENTS.map((e, i) => {
      const box = h('input', { type: 'checkbox', id: `wh-event-${i}`, name: 'events', value: e.value, checked: e.value !== 'lead.deleted' });
      // The default, so that the form's reset() after adding a webhook ticks the same events again.
      box.defaultChecked = box.checked;
      return { box, el: h('div', { class: 'check' }, box, h('label', { for: `wh-event-${i}` }, h('span', { class: 'check-label' }, e.label), h('span', { class: 'muted small' }, ` ${e.value} — ${e.help}`))) };
    });
    const stageHost = h('div', { class: 'check-grid', 'data-testid': 'wh-stages' }, h('span', { class: 'muted small' }, 'Loading stages…'));
    let stageBoxes = [];
    loadStages().then((stages) => {
      stageBoxes = stages.map((s, i) => h('input', { type: 'checkbox', id: `wh-stage-${i}`, name: 'stages', value: s }));
      setContent(stageHost, stages.map((s, i) => h('div', { class: 'check' }, stageBoxes[i], h('label', { for: `wh-stage-${i}` }, s))));
    }).catch((e) => setContent(stageHost, h('span', { class: 'error small' }, `Stages could not be loaded: ${e.message}`)));
    const format = h('select', { class: 'select', id: 'wh-format', name: 'format' }, FORMATS.map((f) => h('option', { value: f.value }, f.label)));
    const sourceId = h('input', { class: 'input', id: 'wh-source-id', name: 'event_source_id', type: 'text', autocomplete: 'off', 'aria-describedby': 'wh-source-help' });
    const sourceField = h('div', { class: 'form-field', hidden: true },
      h('label', { class: 'field-label', for: 'wh-source-id' }, 'TikTok pixel code (event_source_id)'), sourceId,
      h('p', { class: 'muted small', id: 'wh-source-help' }, 'Required for TikTok: the pixel code from TikTok Events Manager.'));
    const consent = h('input', { type: 'checkbox', id: 'wh-consent', name: 'consent', checked: true, 'aria-describedby': 'wh-consent-help' });
    const consentField = h('div', { class: 'form-field', hidden: true },
      h('div', { class: 'check' }, consent, h('label', { for: 'wh-consent' }, 'Only send leads who gave ad_user_data consent')),
      h('p', { class: 'muted small', id: 'wh-consent-help' },
        'Meta and TikTok get nothing for a lead without it; GA4 gets the conversion without personal data. Untick only if you record consent elsewhere.'));
    format.addEventListener('change', () => {
      sourceField.hidden = format.value !== 'tiktok';
      sourceId.required = format.value === 'tiktok';
      consentField.hidden = format.value === 'standard';
    });
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', 'data-action': 'add-webhook' }, 'Add webhook');
    const fields = { url, events: eventBoxes[0].box, stages: stageHost, format, event_source_id: sourceId, consent };

    const formEl = h('form', { class: 'webhook-form', novalidate: true, 'aria-labelledby': 'add-webhook-title' },
      h('div', { class: 'form-field' },
        h('label', { class: 'field-label', for: 'wh-url' }, 'Endpoint URL'), url,
        h('p', { class: 'muted small', id: 'wh-url-help' }, 'https only (http is accepted for localhost and 127.0.0.1).')),
      h('fieldset', { class: 'form-field' }, h('legend', { class: 'field-label' }, 'Events'), eventBoxes.map((e) => e.el)),
      h('fieldset', { class: 'form-field' }, h('legend', { class: 'field-label' }, 'Only for these stages (optional)'),
        h('p', { class: 'muted small' }, 'Leave all unticked to receive every stage. Applies to lead created and stage changed.'), stageHost),
      h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'wh-format' }, 'Format'), format),
      sourceField,
      consentField,
      errors,
      h('div', { class: 'form-actions' }, submit));

    formEl.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      setContent(errors, null);
      for (const el of [url, format, sourceId]) el.removeAttribute('aria-invalid');
      const events = eventBoxes.filter((e) => e.box.checked).map((e) => e.box.value);
      const stages = stageBoxes.filter((b) => b.checked).map((b) => b.value);
      const body = { url: url.value.trim(), events, format: format.value };
      if (stages.length) body.stages = stages;
      if (format.value === 'tiktok') body.event_source_id = sourceId.value.trim();
      if (format.value !== 'standard') body.consent = consent.checked ? 'required' : 'not_required';
      const fail = (message, field) => {
        setContent(errors, h('p', {}, message));
        const target = fields[field];
        if (target && target.setAttribute && target.tagName !== 'DIV') target.setAttribute('aria-invalid', 'true');
        if (target && target.focus) target.focus();
      };
      if (!body.url) { fail('Enter the endpoint URL.', 'url'); return; }
      if (!events.length) { fail('Tick at least one event.', 'events'); return; }
      submit.disabled = true;
      try {
        const created = await api.createWebhook(body);
        formEl.reset();
        sourceField.hidden = true;
        showSecret(created);
        load();
      } catch (e) {
        if (e.status === 401) return;
        fail(e.message, e.field);
      } finally {
        submit.disabled = false;
      }
    });
    const section = h('section', { class: 'card settings-card', 'aria-labelledby': 'add-webhook-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'add-webhook-title' }, 'Add a webhook')),
      h('div', { class: 'settings-body' }, formEl));
    return { section };
  }

  load();
}
