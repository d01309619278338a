// Lead detail drawer: all fields, custom_data, first-touch attribution, stage history timeline.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { leadName, dateTime, ago, display, duration, num } from '../format.js';
import { drawer, loading, errorState, stageChip, setContent, confirmDialog, toast } from '../ui.js';
import { moveLead, deleteLead, releaseLead, quarantineBadge, stageSelect } from '../actions.js';
import { moneyListText, leadRevenue, normalize } from '../money.js';
import { moneyEl, moneyListEl } from '../money-ui.js';
import { noteLocalChange } from '../live.js';
import { exportPerson, erasePerson } from '../privacy.js';

/**
 * openLead(id, {onChanged(lead), onDeleted(id), onClose()})
 */
export function openLead(id, hooks = {}) {
  const d = drawer({ title: 'Lead', label: 'Lead details', onClose: hooks.onClose, returnFocus: hooks.returnFocus, opener: hooks.opener });
  d.panel.dataset.leadId = id;

  async function load() {
    d.ready(false);
    setContent(d.body, loading('Loading lead…'));
    let data; let stages;
    try {
      [data, stages] = await Promise.all([api.lead(id), loadStages()]);
    } catch (e) {
      if (e.status === 401) return;
      d.setTitle(e.status === 404 ? 'Lead not found' : 'Lead');
      setContent(d.body, errorState(e.status === 404 ? new Error('This lead no longer exists. It may have been deleted.') : e,
        e.status === 404 ? null : load));
      d.ready();
      return;
    }
    if (!d.isOpen()) return;
    render(data.lead, Array.isArray(data.history) ? data.history : [], stages);
    d.ready();
  }

  function render(lead, history, stages, focusAfter) {
    d.setTitle(leadName(lead),
      h('div', { class: 'drawer-sub' }, stageChip(lead.stage, stages), lead.quarantine ? quarantineBadge(lead) : null,
        h('span', { class: 'muted' }, `Created ${dateTime(lead.created_at)} · ${ago(lead.created_at)}`)));

    const actions = h('div', { class: 'drawer-actions' },
      lead.quarantine ? h('button', {
        class: 'btn btn-primary', type: 'button', 'data-action': 'release',
        onclick: async () => {
          const released = await releaseLead(lead);
          if (released) { hooks.onChanged && hooks.onChanged(released); load(); }
        },
      }, 'Release from quarantine') : null,
      h('label', { class: 'field-inline' }, h('span', { class: 'sr-only' }, 'Change stage'),
        stageSelect(lead, stages, async (to) => {
          const updated = await moveLead(lead, to, stages);
          if (updated) { hooks.onChanged && hooks.onChanged(updated); load(); }
        })),
      h('button', {
        class: 'btn btn-danger-ghost', type: 'button', 'data-action': 'delete',
        onclick: async () => {
          if (await deleteLead(lead)) { hooks.onDeleted && hooks.onDeleted(lead.id); d.close(); }
        },
      }, icon('trash'), 'Delete'));
    const privacy = h('div', { class: 'drawer-privacy', 'data-needs': 'admin', role: 'group', 'aria-label': 'Personal data' },
      h('span', { class: 'drawer-privacy-label' }, 'Personal data'),
      h('button', {
        class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'export-person', 'data-needs': 'admin',
        onclick: () => exportPerson(lead),
      }, 'Export data'),
      h('button', {
        class: 'btn btn-danger-ghost btn-sm', type: 'button', 'data-action': 'erase-person', 'data-needs': 'admin',
        onclick: async () => {
          if (await erasePerson(lead)) { hooks.onDeleted && hooks.onDeleted(lead.id); d.close(); }
        },
      }, 'Erase person'));

    const ft = lead.first_touch || {};
    const form = formBlock(lead);
    const custom = lead.custom_data && typeof lead.custom_data === 'object' ? Object.entries(lead.custom_data) : [];

    const q = lead.quarantine && typeof lead.quarantine === 'object' ? lead.quarantine : null;
    setContent(d.body,
      q ? h('div', { class: 'quarantine-note', role: 'note' }, h('strong', {}, 'Quarantined'),
        h('span', {}, `Held back as a likely bot${q.reason ? ` (${q.reason})` : ''}${q.at ? ` on ${dateTime(q.at)}` : ''}: not counted in analytics or shown on the board until released.`)) : null,
      actions,
      privacy,
      section('Contact', fields([
        ['Email', lead.email], ['First name', lead.first_name], ['Last name', lead.last_name],
        ['Phone', lead.phone], ['Company', lead.company],
      ])),
      section('Consent', consentBlock(lead), 'section-consent'),
      section('Orders', ordersBlock(lead, stages, history), 'section-orders'),
      section('Stage history', timeline(withStageTimes(history, lead, stages), stages)),
      section('Form progress', form),
      section('Attribution (latest)', fields([
        ['Source', lead.source], ['Campaign', lead.campaign], ['Domain', lead.domain],
        ['UTM source', lead.utm_source], ['UTM medium', lead.utm_medium], ['UTM campaign', lead.utm_campaign],
        ['UTM term', lead.utm_term], ['UTM content', lead.utm_content], ['Referrer', lead.referrer],
      ])),
      section('First touch', fields([
        ['Source', ft.source], ['Campaign', ft.campaign], ['Domain', ft.domain],
        ['UTM source', ft.utm_source], ['UTM medium', ft.utm_medium], ['UTM campaign', ft.utm_campaign],
        ['UTM term', ft.utm_term], ['UTM content', ft.utm_content], ['Referrer', ft.referrer],
      ])),
      section('Device', fields([
        ['IP address', lead.ip_address], ['Device', lead.device_type], ['Browser', lead.browser], ['User agent', lead.user_agent],
      ])),
      section('Custom data', custom.length
        ? h('dl', { class: 'fields fields-custom' }, custom.map(([k, v]) => [h('dt', {}, k), h('dd', {}, display(v))]))
        : h('p', { class: 'muted' }, 'No custom data.')),
      section('Record', fields([
        ['Lead ID', lead.id], ['Created', dateTime(lead.created_at)], ['Updated', dateTime(lead.updated_at)],
        ['In current stage since', `${dateTime(lead.stage_entered_at)} (${ago(lead.stage_entered_at)})`],
        ...stages.filter((st) => lead.stage_reached_at && lead.stage_reached_at[st]).map((st) => [`Reached ${st}`, dateTime(lead.stage_reached_at[st])]),
      ]), 'section-record'));
    if (focusAfter) {
      const el = d.body.querySelector(focusAfter);
      if (el) el.focus();
    }
  }

  /** Run an order change, then show the lead the API answers (its orders as stored). */
  async function changeOrders(lead, history, stages, call, { done, focus, onFieldError } = {}) {
    d.ready(false);
    try {
      const res = await call();
      noteLocalChange();
      if (!d.isOpen()) return;
      render(res.lead, history, stages, focus);
      if (done) toast(done, 'success', { key: 'order' });
      if (hooks.onChanged) hooks.onChanged(res.lead);
    } catch (e) {
      if (e.status === 401) return;
      if (onFieldError && onFieldError(e)) return;
      toast(e.status === 404 ? 'That lead or order no longer exists; reload the lead.' : `Could not save the order: ${e.message}`, 'error');
    } finally {
      d.ready();
    }
  }

  /** The lead's orders: each with its amount, day, stage and origin; kept-apart and removed ones apart; admin edits. */
  function ordersBlock(lead, stages, history) {
    const orders = Array.isArray(lead.orders) ? lead.orders : [];
    const revenue = leadRevenue(lead);
    const apart = orders.filter((o) => !o.removed_at && !normalize(o.value));
    const removed = orders.filter((o) => o.removed_at);
    const total = h('div', { class: 'orders-total', 'data-revenue': moneyListText(revenue) },
      h('span', { class: 'orders-total-label' }, 'Revenue'),
      h('strong', { class: 'orders-total-value' }, moneyListEl(revenue, { none: 'none' })),
      h('span', { class: 'muted small' },
        revenue.length > 1 ? ' · per currency, not converted' : '',
        apart.length ? ` · ${num(apart.length)} kept apart` : '',
        removed.length ? ` · ${num(removed.length)} removed` : ''));
    const list = orders.length
      ? h('ul', { class: 'orders' }, orders.map((o) => orderItem(o)))
      : h('p', { class: 'muted orders-none' }, 'No orders yet. Server-key postbacks with a value record them; you can add one here.');
    const formHost = h('div', { class: 'order-form-host' });
    const addBtn = h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'add-order', onclick: () => {
      addBtn.hidden = true;
      const last = [...orders].reverse().find((o) => normalize(o.value));
      setContent(formHost, orderForm({
        title: 'Add an order', withId: true, currency: last ? last.value.currency : 'USD', submitLabel: 'Add order',
        onCancel: () => { setContent(formHost); addBtn.hidden = false; addBtn.focus(); },
        onSubmit: (body, showField) => changeOrders(lead, history, stages, () => api.addOrder(lead.id, body), {
          done: 'Order added', focus: '[data-action=add-order]', onFieldError: showField,
        }),
      }));
      const first = formHost.querySelector('input');
      if (first) first.focus();
    } }, '+ Add order');
    return h('div', { class: 'orders-block' }, total, list, addBtn, formHost);

    function orderItem(o) {
      const value = normalize(o.value);
      const isRemoved = Boolean(o.removed_at);
      const amount = value
        ? h(isRemoved ? 's' : 'strong', { class: 'order-amount', 'data-amount': `${value.amount} ${value.currency}` }, moneyEl(value),
          isRemoved ? h('span', { class: 'sr-only' }, ' (removed)') : null)
        : h('strong', { class: 'order-amount order-unread' }, o.unread ? `${display(o.unread.value)}${o.unread.currency ? ` ${o.unread.currency}` : ''}` : '—');
      const editHost = h('div', { class: 'order-form-host' });
      const editBtn = !isRemoved && value ? h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-action': 'edit-order', 'aria-label': `Edit the amount of order ${o.order_id}`, onclick: () => {
        editBtn.hidden = true;
        setContent(editHost, orderForm({
          title: `Change order ${o.order_id}`, amount: value.amount, currency: value.currency, submitLabel: 'Save',
          onCancel: () => { setContent(editHost); editBtn.hidden = false; editBtn.focus(); },
          onSubmit: (body, showField) => changeOrders(lead, history, stages, () => api.editOrder(lead.id, o.order_id, body), {
            done: `Order ${o.order_id} changed`, focus: `[data-order-id="${CSS.escape(o.order_id)}"] [data-action=edit-order]`, onFieldError: showField,
          }),
        }));
        const first = editHost.querySelector('input');
        if (first) { first.focus(); first.select(); }
      } }, 'Edit') : null;
      const removeBtn = !isRemoved ? h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', 'data-action': 'remove-order', 'aria-label': `Remove order ${o.order_id}`, onclick: async () => {
        const ok = await confirmDialog({
          title: `Remove order ${o.order_id}?`,
          body: h('div', {},
            h('p', {}, value ? [moneyEl(value), ' will no longer count in revenue, ROAS or any report.'] : 'It will no longer be listed as kept apart.'),
            h('p', { class: 'muted' }, 'The order stays in the lead’s history, struck through; recording it again with the same order id restores it.')),
          confirmLabel: 'Remove order',
          danger: true,
        });
        if (!ok) return;
        changeOrders(lead, history, stages, () => api.removeOrder(lead.id, o.order_id), { done: `Order ${o.order_id} removed`, focus: '[data-action=add-order]' });
      } }, 'Remove') : null;
      const changes = Array.isArray(o.changes) ? o.changes : [];
      return h('li', { class: `order${isRemoved ? ' order-removed' : ''}${value ? '' : ' order-apart'}`, 'data-order-id': o.order_id },
        h('div', { class: 'order-head' },
          amount,
          h('span', { class: 'order-id mono small', title: 'Order id' }, o.order_id),
          isRemoved ? h('span', { class: 'badge badge-muted' }, 'removed') : null,
          !value && !isRemoved ? h('span', { class: 'badge badge-warn' }, 'kept apart') : null,
          h('span', { class: 'order-buttons' }, editBtn, removeBtn)),
        h('div', { class: 'order-meta' },
          dateTime(o.at), ' · ', stageChip(o.stage, stages), ' · ', o.via === 'admin' ? 'added by an admin' : o.via === 'postback' ? 'via postback' : display(o.via),
          isRemoved ? ` · removed ${dateTime(o.removed_at)}` : null),
        !value && o.unread ? h('div', { class: 'order-apart-note' }, `Not counted: ${display(o.unread.reason)}`) : null,
        changes.length ? h('ol', { class: 'order-changes', 'aria-label': `Changes to order ${o.order_id}` }, changes.map((c) => h('li', {},
          dateTime(c.at), ' · ', c.via === 'admin' ? 'admin' : c.via === 'postback' ? 'postback' : display(c.via), ': ',
          c.removed ? 'removed' : 'changed', c.before ? [', was ', moneyEl(c.before)] : ', had no counted amount'))) : null,
        editHost);
    }
  }

  load();
  return d;
}

function section(title, content, cls = '') {
  return h('section', { class: `detail-section ${cls}` }, h('h3', {}, title), content);
}

function fields(pairs) {
  return h('dl', { class: 'fields' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', { class: v == null || v === '' ? 'muted' : '' }, display(v))]));
}

/** The lead's consent per purpose (latest answer), with its wording's version and time, and how many changes. */
function consentBlock(lead) {
  const c = lead.consent && typeof lead.consent === 'object' ? lead.consent : null;
  const purposes = c && c.purposes && typeof c.purposes === 'object' ? Object.entries(c.purposes) : [];
  if (!purposes.length) return h('p', { class: 'muted' }, 'No consent recorded. Ad-platform webhooks that require consent send nothing for this lead.');
  const changes = Array.isArray(lead.consent_history) ? lead.consent_history.length : 0;
  return h('div', {},
    h('dl', { class: 'fields fields-consent' }, purposes.map(([name, granted]) => [
      h('dt', {}, name),
      h('dd', { 'data-purpose': name, 'data-granted': String(granted === true) }, granted === true ? 'Granted' : 'Refused'),
    ])),
    h('p', { class: 'muted' }, [
      c.version ? `Wording ${c.version}` : 'Wording not given',
      c.at ? ` · ${dateTime(c.at)}` : '',
      ` · ${changes} ${changes === 1 ? 'change' : 'changes'} recorded`,
    ].join('')));
}

function formBlock(lead) {
  const p = lead.form_completion_percent;
  const has = p !== null && p !== undefined && Number.isFinite(Number(p));
  const fill = h('span', { class: 'progress-fill' });
  fill.style.width = `${has ? Math.max(0, Math.min(100, Number(p))) : 0}%`;
  return h('div', { class: 'form-progress' },
    h('div', { class: 'progress-row' },
      h('span', { class: 'progress' }, fill),
      h('strong', {}, has ? `${Math.round(Number(p))}%` : '—')),
    h('div', { class: 'muted' },
      lead.form_fields_total != null
        ? `${display(lead.form_fields_completed ?? 0)} of ${display(lead.form_fields_total)} fields completed`
        : 'Field counts not reported'));
}

/**
 * The history with the stage times it leaves out: an imported lead (or one created past its first stage) is
 * recorded as "created in <its stage>", while its stage_reached_at says when it reached each stage before that.
 * Those become the history's first entries ("from stage times"), so a lead that moved through four stages over
 * four days shows four steps, not "Created in Completed".
 */
export function withStageTimes(history, lead, stages) {
  const first = history[0];
  const reached = lead && lead.stage_reached_at && typeof lead.stage_reached_at === 'object' ? lead.stage_reached_at : null;
  if (!first || first.from != null || !reached || !Array.isArray(stages)) return history;
  const upTo = stages.indexOf(first.to);
  if (upTo < 0) return history;
  const steps = stages.slice(0, upTo + 1)
    .map((st) => ({ stage: st, t: Date.parse(reached[st]) }))
    .filter((x) => Number.isFinite(x.t));
  // Nothing to add unless the stages were reached at different times.
  if (steps.length < 2 || new Set(steps.map((x) => x.t)).size < 2) return history;
  const created = Date.parse(first.at);
  const derived = steps.map((x, i) => ({
    from: i === 0 ? null : steps[i - 1].stage,
    to: x.stage,
    at: new Date(i === 0 && Number.isFinite(created) ? Math.min(created, x.t) : x.t).toISOString(),
    via: 'stage_times',
  }));
  return [...derived, ...history.slice(1)];
}

function timeline(history, stages) {
  if (!history.length) return h('p', { class: 'muted' }, 'No stage changes recorded.');
  const items = history.map((e, i) => {
    const next = history[i + 1];
    const stay = next ? (Date.parse(next.at) - Date.parse(e.at)) / 1000 : null;
    return h('li', { class: 'tl-item' },
      h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
      h('div', { class: 'tl-main' },
        h('div', { class: 'tl-head' },
          e.from == null ? h('span', { class: 'tl-created' }, 'Created in') : [stageChip(e.from, stages), h('span', { class: 'tl-arrow', 'aria-hidden': 'true' }, '→')],
          stageChip(e.to, stages)),
        h('div', { class: 'tl-meta' },
          dateTime(e.at),
          ' · ', e.via === 'manual' ? (typeof e.by === 'string' && e.by ? h('span', { class: 'tl-by' }, `moved by ${e.by}`) : 'moved manually')
            : e.via === 'postback' ? 'via postback' : e.via === 'stage_times' ? 'from the stage times' : display(e.via),
          e.forced ? h('span', { class: 'badge badge-warn' }, 'forced') : null,
          stay !== null && Number.isFinite(stay) ? h('span', { class: 'muted' }, ` · stayed ${duration(stay)}`) : null)));
  });
  return h('ol', { class: 'timeline' }, items);
}

let formSeq = 0;
/**
 * An inline order form: amount (decimal text, never parsed here), currency and, when adding, an optional order id.
 * onSubmit(body, showField) — showField(apiError) puts a 400's message beside the field it names (true when shown).
 */
function orderForm({ title, withId = false, amount = '', currency = 'USD', submitLabel, onSubmit, onCancel }) {
  const id = `of-${++formSeq}`;
  const err = {};
  const input = (name, label, attrs) => {
    const el = h('input', { class: 'input', id: `${id}-${name}`, name, 'aria-describedby': `${id}-${name}-error`, ...attrs });
    err[name] = h('p', { class: 'field-error', id: `${id}-${name}-error`, hidden: true });
    return { el, wrap: h('div', { class: `filter order-field order-field-${name}` }, h('label', { class: 'filter-label', for: `${id}-${name}` }, label), el, err[name]) };
  };
  const amt = input('value', 'Amount', { type: 'text', inputmode: 'decimal', value: amount, placeholder: '49.99', autocomplete: 'off', required: true });
  const cur = input('currency', 'Currency', { type: 'text', value: currency, maxlength: 3, placeholder: 'USD', autocomplete: 'off', required: true });
  const oid = withId ? input('order_id', 'Order id (optional)', { type: 'text', placeholder: 'A-1001', autocomplete: 'off' }) : null;
  const formError = h('p', { class: 'field-error order-form-error', role: 'alert', hidden: true });
  // A field's message is read when focus moves to it (aria-describedby); when focus is there already (Enter in the
  // field), nothing would be read, so this live region says it.
  const said = h('p', { class: 'sr-only', role: 'status' });
  const fields = { value: amt.el, currency: cur.el, ...(oid ? { order_id: oid.el } : {}) };
  const clearErrors = () => {
    for (const [k, el] of Object.entries(fields)) { el.removeAttribute('aria-invalid'); err[k].hidden = true; err[k].textContent = ''; }
    formError.hidden = true; formError.textContent = '';
    said.textContent = '';
  };
  const showField = (e) => {
    if (e.status !== 400 && e.status !== 409) return false;
    const el = e.field && fields[e.field];
    if (el) {
      el.setAttribute('aria-invalid', 'true');
      err[e.field].textContent = e.message;
      err[e.field].hidden = false;
      if (document.activeElement === el) said.textContent = `${e.message}`;
      el.focus();
    } else {
      formError.textContent = e.message;
      formError.hidden = false;
    }
    return true;
  };
  const form = h('form', { class: 'order-form', 'aria-label': title, novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    clearErrors();
    const value = amt.el.value.trim();
    const code = cur.el.value.trim().toUpperCase();
    if (!value) return showField({ status: 400, field: 'value', message: 'Enter an amount, e.g. 49.99 (negative for a refund).' });
    if (!code) return showField({ status: 400, field: 'currency', message: 'Enter a currency code, e.g. USD.' });
    const body = { value, currency: code };
    if (oid && oid.el.value.trim()) body.order_id = oid.el.value.trim();
    const btns = form.querySelectorAll('button');
    for (const b of btns) b.disabled = true;
    await onSubmit(body, showField);
    for (const b of btns) b.disabled = false;
  } },
  h('div', { class: 'order-form-title' }, title),
  h('div', { class: 'order-form-fields' }, amt.wrap, cur.wrap, oid ? oid.wrap : null),
  formError, said,
  h('div', { class: 'order-form-actions' },
    h('button', { class: 'btn btn-primary btn-sm', type: 'submit', 'data-action': 'save-order' }, submitLabel),
    h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-action': 'cancel-order', onclick: onCancel }, 'Cancel')));
  return form;
}
