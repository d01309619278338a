// Pipeline Board: one column per stage. Search/source/campaign/date filters apply to every column.
// Columns first load FIRST_PAGE leads (enough to fill a tall screen, so the board paints fast with any volume), then
// PAGE more whenever their end scrolls into view (IntersectionObserver), with a keyboard-reachable "Load more" button
// as the fallback.
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { leadName, ago, num, stageColor, dateTime, duration } from '../format.js';
import { loading, errorState, setContent, toast } from '../ui.js';
import { moveLead, stageSelect } from '../actions.js';
import { openLead } from './lead.js';
import { can } from '../session.js';
import { valuePicker } from '../pickers.js';
import { moneyEl, notConvertedEl, spoken } from '../money-ui.js';

/** Cards per column on first paint. */
export const FIRST_PAGE = 25;
/** Cards per further page of a column. */
export const PAGE = 100;
const FILTER_KEYS = ['search', 'source', 'campaign', 'from', 'to'];

function parseFilters(q) {
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, ((q && q.get(k)) || '').trim()]));
}

export function renderBoard(root, ctx, params = {}) {
  ctx.setTitle('Pipeline Board', 'Drag cards between stages, or use “Move to…” on a card');
  const refreshBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh', 'aria-label': 'Refresh', onclick: () => start() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(refreshBtn);
  let filters = parseFilters(params.query);

  // ---- filters (applied to every column) ----
  const search = h('input', {
    class: 'input', type: 'search', name: 'search', id: 'b-search', placeholder: 'Name, email, phone…  ( / )', value: filters.search,
    'data-shortcut': 'search', 'aria-keyshortcuts': '/',
  });
  const source = h('input', { class: 'input', type: 'text', name: 'source', id: 'b-source', placeholder: 'Any source', value: filters.source });
  const campaign = h('input', { class: 'input', type: 'text', name: 'campaign', id: 'b-campaign', placeholder: 'Any campaign', value: filters.campaign });
  const from = h('input', { class: 'input', type: 'date', name: 'from', id: 'b-from', value: filters.from, 'aria-describedby': 'b-date-error' });
  const to = h('input', { class: 'input', type: 'date', name: 'to', id: 'b-to', value: filters.to, 'aria-describedby': 'b-date-error' });
  const dateError = h('p', { class: 'filter-error', id: 'b-date-error', role: 'alert', hidden: true });
  const clearBtn = h('button', { class: 'btn btn-ghost', type: 'button', 'data-action': 'clear-filters', onclick: () => {
    for (const el of [search, source, campaign, from, to]) el.value = '';
    applyFilters();
  } }, 'Clear');
  const field = (label, id, control, cls = '', extra = null) => h('div', { class: `filter ${cls}` }, h('label', { class: 'filter-label', for: id }, label), control, extra);
  const form = h('form', { class: 'filters filters-board card', role: 'search', 'aria-label': 'Filter the board', onsubmit: (e) => { e.preventDefault(); applyFilters(); } },
    field('Search', 'b-search', h('div', { class: 'input-icon' }, icon('search'), search), 'filter-search'),
    field('Source', 'b-source', source, '', valuePicker(source, 'source')),
    field('Campaign', 'b-campaign', campaign, '', valuePicker(campaign, 'campaign')),
    field('From', 'b-from', from),
    field('To', 'b-to', to),
    h('div', { class: 'filter filter-buttons' }, clearBtn),
    dateError);
  let debounce;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilters, 350); });
  for (const el of [source, campaign]) el.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilters, 450); });
  for (const el of [from, to]) el.addEventListener('change', applyFilters);

  const body = h('div', { class: 'board-wrap' });
  // The money in the pipeline (GET /api/analytics/pipeline): every lead now in each stage, all time — the board's
  // filters do not apply to it, which the bar says when they are on.
  const moneyBar = h('p', { class: 'pipeline-money', 'aria-live': 'polite', hidden: true });
  root.append(form, moneyBar, body);
  let pipeline = null;

  let stages = [];
  let columns = new Map(); // stage -> column state
  const leadsById = new Map();
  let dragId = null;
  let generation = 0; // bumps on every (re)load so stale pages are dropped
  // Without IntersectionObserver (old browsers) the "Load more" button is the way to page.
  const io = typeof IntersectionObserver === 'function' ? new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const col = columns.get(e.target.dataset.stage);
      if (col && col.cursor && !col.busy) loadPage(col);
    }
  }, { rootMargin: '0px 0px 300px 0px' }) : null;

  const filtered = () => FILTER_KEYS.some((k) => filters[k]);

  function applyFilters() {
    const bad = from.value && to.value && from.value > to.value;
    dateError.hidden = !bad;
    dateError.textContent = bad ? `“From” (${from.value}) must be on or before “To” (${to.value}).` : '';
    for (const el of [from, to]) { if (bad) el.setAttribute('aria-invalid', 'true'); else el.removeAttribute('aria-invalid'); }
    if (bad) return;
    const next = { search: search.value.trim(), source: source.value.trim(), campaign: campaign.value.trim(), from: from.value, to: to.value };
    if (JSON.stringify(next) === JSON.stringify(filters)) return;
    filters = next;
    const p = new URLSearchParams();
    for (const k of FILTER_KEYS) if (filters[k]) p.set(k, filters[k]);
    const qs = p.toString();
    history.replaceState(null, '', `#/board${qs ? `?${qs}` : ''}`);
    start({ quiet: true });
  }

  /** (Re)build the board. quiet: keep the columns on screen while reloading (filters, live updates). */
  async function start({ quiet = false } = {}) {
    const gen = ++generation;
    ctx.busy();
    if (!quiet || !columns.size) setContent(body, loading('Loading pipeline…'));
    try {
      stages = await loadStages(!quiet);
    } catch (e) {
      if (e.status !== 401 && gen === generation) { setContent(body, errorState(e, () => start())); ctx.ready(); }
      return;
    }
    if (!root.isConnected || gen !== generation) return;
    if (!stages.length) { setContent(body, errorState(new Error('No pipeline stages are configured on the server.'), () => start())); ctx.ready(); return; }
    const keep = quiet && columns.size ? new Map([...columns].map(([st, c]) => [st, Math.max(FIRST_PAGE, c.leads.length)])) : new Map();
    const fresh = new Map();
    for (const stage of stages) fresh.set(stage, makeColumn(stage));
    // Load every column's first page (as deep as it was, for live refreshes) before swapping, so nothing flickers.
    const valueP = api.pipelineValue().catch(() => null); // a server without money: no figures, the board still works
    const results = await Promise.all([...fresh.values()].map((col) => fetchPage(col, Math.min(200, keep.get(col.stage) || FIRST_PAGE)).then(
      (res) => ({ col, res }), (error) => ({ col, error }))));
    pipeline = await valueP;
    if (!root.isConnected || gen !== generation) return;
    if (results.some((r) => r.error && r.error.status === 401)) return;
    if (io) io.disconnect();
    columns = fresh;
    leadsById.clear();
    const board = h('div', { class: 'board', role: 'list', 'aria-label': 'Pipeline stages' });
    for (const { col, res, error } of results) {
      board.append(col.el);
      if (error) showColumnError(col, error); else addPage(col, res);
    }
    setContent(body, board);
    for (const col of columns.values()) observe(col);
    renderMoney();
    ctx.ready();
  }

  /** The value and weighted value in each column header, and the pipeline's weighted total above the board. */
  function renderMoney() {
    const p = pipeline && Array.isArray(pipeline.stages) ? pipeline : null;
    moneyBar.hidden = !p;
    for (const col of columns.values()) {
      const st = p ? p.stages.find((x) => x.stage === col.stage) : null;
      col.money.hidden = !st;
      if (!st) { setContent(col.money); continue; }
      const nc = Array.isArray(st.not_converted) ? st.not_converted : [];
      col.money.dataset.value = st.value ? st.value.amount : '';
      col.money.dataset.weighted = st.weighted ? st.weighted.amount : '';
      setContent(col.money,
        h('span', { class: 'sr-only' }, `${col.stage} value: `),
        h('span', { class: 'col-value', title: `Revenue of the ${num(st.leads_with_revenue)} lead${st.leads_with_revenue === 1 ? '' : 's'} in ${col.stage} with orders (all time)` }, moneyEl(st.value)),
        h('span', { class: 'col-weighted', title: `Weighted at ${num(st.probability_percent)} % for ${col.stage}` },
          spoken(' · ', ', '), moneyEl(st.weighted), spoken(` at ${num(st.probability_percent)}%`, ` weighted at ${num(st.probability_percent)} percent`)),
        notConvertedEl(nc, { title: 'No exchange rate: kept apart, not counted' }));
    }
    if (!p) return;
    // A polite live region: written again only when its figures change (live refreshes would repeat them otherwise).
    const said = JSON.stringify([p.total, p.weighted_total, filtered()]);
    if (moneyBar.dataset.said === said) return;
    moneyBar.dataset.said = said;
    setContent(moneyBar,
      h('span', {}, 'Pipeline value '), h('strong', { 'data-money': 'total' }, moneyEl(p.total)),
      h('span', {}, ' · weighted '), h('strong', { 'data-money': 'weighted' }, moneyEl(p.weighted_total)),
      h('span', { class: 'muted' }, filtered()
        ? ' · all leads, all time: the filters above do not apply to these figures'
        : ' · every lead now in each stage, all time, at today’s rates'));
  }

  function makeColumn(stage) {
    const count = h('span', { class: 'col-count' }, '…');
    const moneyLine = h('div', { class: 'col-money', hidden: true });
    const countLabel = h('span', { class: 'sr-only' }, '');
    const list = h('div', { class: 'col-cards', tabindex: '0', role: 'group', 'aria-label': `${stage} leads` });
    const more = h('div', { class: 'col-more', 'data-stage': stage });
    const footer = h('div', { class: 'col-footer' });
    const color = stageColor(stage, stages);
    const el = h('div', { class: 'column', role: 'listitem', 'data-stage': stage, 'aria-label': `${stage} column` },
      h('header', { class: `col-head col-${color}` },
        h('span', { class: `dot dot-${color}`, 'aria-hidden': 'true' }),
        h('h2', { class: 'col-title' }, stage), count, countLabel),
      moneyLine, list, footer);
    list.append(more);
    const col = { stage, el, list, more, footer, count, countLabel, money: moneyLine, leads: [], cursor: null, total: null, loaded: false, busy: false };

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

  function fetchPage(col, limit = PAGE) {
    return api.leads({ stage: col.stage, ...filters, limit, cursor: col.cursor || undefined });
  }

  function observe(col) {
    // Re-observing reports the current state at once: a still-visible end loads the next page.
    if (!io) return;
    io.unobserve(col.more);
    if (col.cursor) io.observe(col.more);
  }

  async function loadPage(col) {
    if (col.busy || (col.loaded && !col.cursor)) return;
    const gen = generation;
    const hadFocus = col.more.contains(document.activeElement);
    const firstNew = col.leads.length;
    col.busy = true;
    col.el.setAttribute('aria-busy', 'true');
    setContent(col.more, loading('Loading more…'));
    try {
      const res = await fetchPage(col);
      if (!root.isConnected || gen !== generation) return;
      addPage(col, res);
      observe(col);
      // Keyboard users who pressed "Load more" continue at the first new card.
      if (hadFocus && col.leads[firstNew]) {
        const next = col.list.querySelector(`.lead-card[data-lead-id="${CSS.escape(col.leads[firstNew].id)}"] .card-name`);
        if (next) next.focus();
      }
    } catch (e) {
      if (e.status === 401 || gen !== generation) return;
      showColumnError(col, e);
    } finally {
      col.busy = false;
      col.el.removeAttribute('aria-busy');
    }
  }

  function addPage(col, res) {
    const seen = new Set(col.leads.map((l) => l.id));
    const added = [];
    for (const lead of res.leads || []) {
      if (seen.has(lead.id)) continue;
      col.leads.push(lead);
      added.push(lead);
      leadsById.set(lead.id, lead);
    }
    col.cursor = res.next_cursor || null;
    // total is exact when total_exact (servers before it sent null for a filtered column); else a lower bound.
    const exact = typeof res.total === 'number' && (res.total_exact === true || (res.total_exact === undefined && !filtered()));
    col.total = exact ? res.total : null;
    col.atLeast = typeof res.total === 'number' ? res.total : 0;
    col.loaded = true;
    col.more.before(...added.map((l) => card(l)));
    renderColumnChrome(col);
  }

  function renderColumn(col) {
    setContent(col.list, col.leads.map((l) => card(l)), col.more);
    renderColumnChrome(col);
    observe(col);
  }

  function renderColumnChrome(col) {
    const exact = col.total !== null;
    // Not exact: what is loaded, or the server's lower bound when it is larger.
    const shown = exact ? col.leads.length : Math.max(col.leads.length, col.atLeast || 0);
    col.count.textContent = exact ? num(col.total) : `${num(shown)}${col.cursor ? '+' : ''}`;
    col.count.dataset.count = exact ? String(col.total) : String(shown);
    col.count.title = exact ? `${num(col.total)} leads in ${col.stage}` : `At least ${num(shown)} leads${col.cursor ? ', more to load' : ''}`;
    col.count.setAttribute('aria-hidden', 'true');
    col.countLabel.textContent = `${exact ? num(col.total) : num(shown)}${!exact && col.cursor ? ' or more' : ''} leads`;
    const left = exact ? Math.max(0, col.total - shown) : null;
    setContent(col.more, col.cursor
      ? h('button', { class: 'btn btn-ghost btn-block load-more', type: 'button', onclick: () => loadPage(col) },
        left !== null ? `Load more (${num(left)} left)` : 'Load more')
      : null);
    setContent(col.footer, shown ? null : h('div', { class: 'col-empty' }, filtered() ? 'No leads match the filters' : 'No leads in this stage'));
  }

  function showColumnError(col, e) {
    setContent(col.more, h('div', { class: 'col-error', role: 'alert' },
      h('span', {}, e.message),
      h('button', { class: 'btn btn-secondary btn-sm', type: 'button', onclick: () => loadPage(col) }, 'Retry')));
  }

  function card(lead) {
    const name = leadName(lead);
    const p = Number(lead.form_completion_percent);
    const hasPct = lead.form_completion_percent !== null && lead.form_completion_percent !== undefined && Number.isFinite(p);
    const fill = h('span', { class: 'progress-fill' });
    fill.style.width = `${hasPct ? Math.max(0, Math.min(100, p)) : 0}%`;
    const since = Date.parse(lead.stage_entered_at);
    const inStage = Number.isNaN(since) ? '—' : duration(Math.max(0, (Date.now() - since) / 1000));
    const el = h('article', {
      class: 'lead-card', draggable: can('member') ? 'true' : 'false', 'data-lead-id': lead.id, tabindex: '-1',
      'aria-label': `${name}, ${lead.stage}`,
    },
    h('div', { class: 'card-top' },
      h('button', { class: 'card-name', type: 'button', title: 'Open lead', onclick: () => open(lead) }, name),
      h('span', { class: 'card-age', title: `Created ${dateTime(lead.created_at)}` }, ago(lead.created_at))),
    name !== lead.email && lead.email ? h('div', { class: 'card-email', title: lead.email }, lead.email) : null,
    h('div', { class: 'card-meta' },
      h('span', { class: 'tag', title: 'Source' }, lead.source || 'no source'),
      lead.campaign ? h('span', { class: 'card-campaign', title: 'Campaign' }, lead.campaign) : null),
    h('div', { class: 'card-stats' },
      h('span', { class: 'card-form', title: 'Form completion' },
        h('span', { class: 'progress progress-sm', 'aria-hidden': 'true' }, fill),
        h('span', { class: 'card-form-pct' }, h('span', { class: 'sr-only' }, 'Form '), hasPct ? `${Math.round(p)}%` : '—')),
      h('span', { class: 'card-in-stage', title: `In ${lead.stage} since ${dateTime(lead.stage_entered_at)}` },
        icon('clock'), `${inStage} in stage`)),
    h('div', { class: 'card-actions' },
      h('span', { class: 'grip', 'aria-hidden': 'true' }, icon('grip')),
      stageSelect(lead, stages, (to2) => doMove(lead, to2), { compact: true })));
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

  async function doMove(lead, to2) {
    const cur = leadsById.get(lead.id) || lead;
    if (cur.stage === to2) return;
    const updated = await moveLead(cur, to2, stages);
    if (updated) {
      applyUpdate(cur, updated);
      const cardEl = body.querySelector(`.lead-card[data-lead-id="${CSS.escape(updated.id)}"]`);
      if (cardEl) {
        cardEl.classList.add('just-moved');
        const sel = cardEl.querySelector('select');
        if (sel) sel.focus();
      }
    }
  }

  function applyUpdate(old, updated) {
    const fromCol = columns.get(old.stage);
    const toCol = columns.get(updated.stage);
    leadsById.set(updated.id, updated);
    if (fromCol) {
      const before = fromCol.leads.length;
      fromCol.leads = fromCol.leads.filter((l) => l.id !== updated.id);
      if (fromCol.total !== null && before !== fromCol.leads.length) fromCol.total = Math.max(0, fromCol.total - 1);
      renderColumn(fromCol);
    }
    if (toCol) {
      if (!toCol.leads.some((l) => l.id === updated.id)) {
        const t = Date.parse(updated.created_at);
        let idx = toCol.leads.findIndex((l) => Date.parse(l.created_at) < t);
        if (idx < 0) idx = toCol.leads.length;
        // If it sorts after everything loaded and more pages exist, the next page will bring it.
        if (!(idx === toCol.leads.length && toCol.cursor)) toCol.leads.splice(idx, 0, updated);
        if (toCol.total !== null) toCol.total += 1;
      } else {
        toCol.leads = toCol.leads.map((l) => (l.id === updated.id ? updated : l));
      }
      renderColumn(toCol);
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

  // Live updates: reload the columns in place (as deep as they were loaded), unless a drag is under way.
  let pendingLive = false;
  ctx.onLive(() => {
    if (dragId) { pendingLive = true; return; }
    start({ quiet: true });
  });
  body.addEventListener('dragend', () => { if (pendingLive && root.isConnected) { pendingLive = false; start({ quiet: true }); } });

  start();
}
