// Lead detail drawer: all fields, custom_data, first-touch attribution, stage history timeline.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { leadName, dateTime, ago, display, duration } from '../format.js';
import { drawer, loading, errorState, stageChip, setContent } from '../ui.js';
import { moveLead, deleteLead, releaseLead, quarantineBadge, stageSelect } from '../actions.js';

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

  function render(lead, history, stages) {
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

    const ft = lead.first_touch || {};
    const form = formBlock(lead);
    const custom = lead.custom_data && typeof lead.custom_data === 'object' ? Object.entries(lead.custom_data) : [];

    const q = lead.quarantine && typeof lead.quarantine === 'object' ? lead.quarantine : null;
    setContent(d.body,
      q ? h('div', { class: 'quarantine-note', role: 'note' }, h('strong', {}, 'Quarantined'),
        h('span', {}, `Held back as a likely bot${q.reason ? ` (${q.reason})` : ''}${q.at ? ` on ${dateTime(q.at)}` : ''}: not counted in analytics or shown on the board until released.`)) : null,
      actions,
      section('Contact', fields([
        ['Email', lead.email], ['First name', lead.first_name], ['Last name', lead.last_name],
        ['Phone', lead.phone], ['Company', lead.company],
      ])),
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
          ' · ', e.via === 'manual' ? 'moved manually' : e.via === 'postback' ? 'via postback' : e.via === 'stage_times' ? 'from the stage times' : display(e.via),
          e.forced ? h('span', { class: 'badge badge-warn' }, 'forced') : null,
          stay !== null && Number.isFinite(stay) ? h('span', { class: 'muted' }, ` · stayed ${duration(stay)}`) : null)));
  });
  return h('ol', { class: 'timeline' }, items);
}
