// Pipeline Board: one column per stage, each loading its own pages (limit 20) on demand.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { leadName, ago, num, stageColor } from '../format.js';
import { loading, errorState, setContent, toast } from '../ui.js';
import { moveLead, stageSelect } from '../actions.js';
import { openLead } from './lead.js';

const PAGE = 20;

export function renderBoard(root, ctx) {
  ctx.setTitle('Pipeline Board', 'Drag cards between stages, or use “Move to…” on a card');
  const refreshBtn = h('button', { class: 'btn btn-secondary', type: 'button', onclick: () => start() }, icon('refresh'), h('span', { class: 'btn-label' }, 'Refresh'));
  ctx.setActions(refreshBtn);
  const body = h('div', { class: 'board-wrap' });
  root.append(body);

  let stages = [];
  let columns = new Map(); // stage -> column state
  const leadsById = new Map();
  let dragId = null;

  async function start() {
    setContent(body, loading('Loading pipeline…'));
    try {
      stages = await loadStages(true);
    } catch (e) {
      if (e.status !== 401) setContent(body, errorState(e, start));
      return;
    }
    if (!root.isConnected) return;
    if (!stages.length) { setContent(body, errorState(new Error('No pipeline stages are configured on the server.'), start)); return; }
    columns = new Map();
    leadsById.clear();
    const board = h('div', { class: 'board', role: 'list', 'aria-label': 'Pipeline stages' });
    for (const stage of stages) {
      const col = makeColumn(stage);
      columns.set(stage, col);
      board.append(col.el);
    }
    setContent(body, board);
    for (const col of columns.values()) loadPage(col);
  }

  function makeColumn(stage) {
    const count = h('span', { class: 'col-count', 'aria-label': 'Leads in stage' }, '…');
    const list = h('div', { class: 'col-cards' });
    const footer = h('div', { class: 'col-footer' });
    const el = h('section', {
      class: 'column', role: 'listitem', 'data-stage': stage, 'aria-label': `${stage} column`,
    },
    h('header', { class: `col-head col-${stageColor(stage, stages)}` },
      h('span', { class: `dot dot-${stageColor(stage, stages)}`, 'aria-hidden': 'true' }),
      h('h2', { class: 'col-title' }, stage), count),
    list, footer);
    const col = { stage, el, list, footer, count, leads: [], cursor: null, total: null, loaded: false, busy: false };

    el.addEventListener('dragover', (e) => {
      if (!dragId) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      el.classList.add('drop-target');
    });
    el.addEventListener('dragleave', (e) => {
      if (!el.contains(e.relatedTarget)) el.classList.remove('drop-target');
    });
    el.addEventListener('drop', (e) => {
      e.preventDefault();
      el.classList.remove('drop-target');
      const id = dragId || e.dataTransfer.getData('text/plain');
      dragId = null;
      const lead = leadsById.get(id);
      if (lead) doMove(lead, stage);
    });
    return col;
  }

  async function loadPage(col) {
    if (col.busy) return;
    col.busy = true;
    setContent(col.footer, loading(col.loaded ? 'Loading more…' : 'Loading…'));
    try {
      const res = await api.leads({ stage: col.stage, limit: PAGE, cursor: col.cursor || undefined });
      if (!root.isConnected) return;
      const seen = new Set(col.leads.map((l) => l.id));
      for (const lead of res.leads || []) {
        if (seen.has(lead.id)) continue;
        col.leads.push(lead);
        leadsById.set(lead.id, lead);
      }
      col.cursor = res.next_cursor || null;
      if (typeof res.total === 'number') col.total = res.total;
      col.loaded = true;
      renderColumn(col);
    } catch (e) {
      if (e.status === 401) return;
      setContent(col.footer, h('div', { class: 'col-error', role: 'alert' },
        h('span', {}, e.message),
        h('button', { class: 'btn btn-secondary btn-sm', type: 'button', onclick: () => loadPage(col) }, 'Retry')));
    } finally {
      col.busy = false;
    }
  }

  function renderColumn(col) {
    setContent(col.list, col.leads.map((l) => card(l)));
    const shown = col.leads.length;
    col.count.textContent = col.total !== null ? num(col.total) : `${num(shown)}${col.cursor ? '+' : ''}`;
    const parts = [];
    if (!shown) parts.push(h('div', { class: 'col-empty' }, 'No leads in this stage'));
    if (col.cursor) {
      parts.push(h('button', {
        class: 'btn btn-ghost btn-block load-more', type: 'button', onclick: () => loadPage(col),
      }, col.total !== null ? `Load more (${num(Math.max(0, col.total - shown))} left)` : 'Load more'));
    }
    setContent(col.footer, parts);
  }

  function card(lead) {
    const name = leadName(lead);
    const el = h('article', {
      class: 'lead-card', draggable: 'true', 'data-lead-id': lead.id, tabindex: '-1',
      'aria-label': `${name}, ${lead.stage}`,
    },
    h('div', { class: 'card-top' },
      h('button', { class: 'card-name', type: 'button', title: 'Open lead', onclick: () => open(lead) }, name),
      h('span', { class: 'card-age', title: lead.created_at }, ago(lead.created_at))),
    name !== lead.email && lead.email ? h('div', { class: 'card-email', title: lead.email }, lead.email) : null,
    h('div', { class: 'card-meta' },
      h('span', { class: 'tag', title: 'Source' }, lead.source || 'no source'),
      lead.campaign ? h('span', { class: 'card-campaign', title: 'Campaign' }, lead.campaign) : null),
    h('div', { class: 'card-actions' },
      h('span', { class: 'grip', 'aria-hidden': 'true' }, icon('grip')),
      stageSelect(lead, stages, (to) => doMove(lead, to), { compact: true })));
    el.addEventListener('dragstart', (e) => {
      dragId = lead.id;
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', lead.id);
      el.classList.add('dragging');
      body.classList.add('is-dragging');
    });
    el.addEventListener('dragend', () => {
      el.classList.remove('dragging');
      body.classList.remove('is-dragging');
      document.querySelectorAll('.drop-target').forEach((c) => c.classList.remove('drop-target'));
      setTimeout(() => { dragId = null; }, 0);
    });
    return el;
  }

  function open(lead) {
    openLead(lead.id, {
      onChanged: (updated) => applyUpdate(leadsById.get(lead.id) || lead, updated),
      onDeleted: (id) => removeLead(id),
    });
  }

  async function doMove(lead, to) {
    const current = leadsById.get(lead.id) || lead;
    if (current.stage === to) return;
    const updated = await moveLead(current, to, stages);
    if (updated) {
      applyUpdate(current, updated);
      const cardEl = body.querySelector(`.lead-card[data-lead-id="${CSS.escape(updated.id)}"]`);
      if (cardEl) {
        cardEl.classList.add('just-moved');
        const sel = cardEl.querySelector('select');
        if (sel) sel.focus();
      }
    }
  }

  function applyUpdate(old, updated) {
    const from = columns.get(old.stage);
    const to = columns.get(updated.stage);
    leadsById.set(updated.id, updated);
    if (from) {
      const before = from.leads.length;
      from.leads = from.leads.filter((l) => l.id !== updated.id);
      if (from.total !== null && before !== from.leads.length) from.total = Math.max(0, from.total - 1);
      renderColumn(from);
    }
    if (to) {
      if (!to.leads.some((l) => l.id === updated.id)) {
        const t = Date.parse(updated.created_at);
        let idx = to.leads.findIndex((l) => Date.parse(l.created_at) < t);
        if (idx < 0) idx = to.leads.length;
        // If it sorts after everything loaded and more pages exist, "Load more" will bring it.
        if (!(idx === to.leads.length && to.cursor)) to.leads.splice(idx, 0, updated);
        if (to.total !== null) to.total += 1;
      } else {
        to.leads = to.leads.map((l) => (l.id === updated.id ? updated : l));
      }
      renderColumn(to);
    } else if (updated.stage !== old.stage) {
      toast(`Stage “${updated.stage}” is not on this board; refresh to see it`, 'info');
    }
  }

  function removeLead(id) {
    for (const col of columns.values()) {
      const before = col.leads.length;
      col.leads = col.leads.filter((l) => l.id !== id);
      if (before !== col.leads.length) {
        if (col.total !== null) col.total = Math.max(0, col.total - 1);
        renderColumn(col);
      }
    }
    leadsById.delete(id);
  }

  start();
}
