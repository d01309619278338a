// Overview: KPI tiles, funnel, top sources, new leads per day. Loads only /api/analytics (+ stages for colours).
import { h, icon } from '../dom.js';
import { api, loadStages } from '../api.js';
import { num, pct, duration, stageColor, dateTime } from '../format.js';
import { loading, errorState, empty, setContent } from '../ui.js';
import { dailyBars, hBars, ring } from '../charts.js';

export function paidConversion(a) {
  const funnel = Array.isArray(a.funnel) ? a.funnel : [];
  if (!funnel.length || !a.total_leads) return { ratio: null, stage: funnel.length ? funnel[funnel.length - 1].stage : 'Paid', reached: 0 };
  const paid = funnel.find((f) => String(f.stage).toLowerCase() === 'paid') || funnel[funnel.length - 1];
  return { ratio: (Number(paid.reached) || 0) / a.total_leads, stage: paid.stage, reached: Number(paid.reached) || 0 };
}

export function renderOverview(root, ctx) {
  ctx.setTitle('Overview', 'How your pipeline is performing');
  const refresh = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh', 'aria-label': 'Refresh', onclick: () => load() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(refresh);
  const body = h('div', { class: 'overview' });
  root.append(body);

  let seq = 0;
  /** load(): with a spinner; load(analytics): re-render in place with figures already fetched (live update). */
  async function load(fresh) {
    const mine = ++seq;
    ctx.busy();
    if (!fresh) setContent(body, loading('Loading analytics…'));
    let a;
    let stages = [];
    try {
      [a, stages] = await Promise.all([fresh || api.analytics(), loadStages().catch(() => [])]);
    } catch (e) {
      if (e.status === 401 || mine !== seq) return;
      setContent(body, errorState(e, () => load()));
      ctx.ready();
      return;
    }
    if (!root.isConnected || mine !== seq) return;
    const funnel = Array.isArray(a.funnel) ? a.funnel : [];
    if (!stages.length) stages = funnel.map((f) => f.stage);
    const paid = paidConversion(a);

    const kpis = h('section', { class: 'kpis', 'aria-label': 'Key figures' },
      kpi('Total leads', num(a.total_leads), 'All time', 'kpi-total'),
      kpi('New today', num(a.new_today), a.time_zone ? `Since midnight (${a.time_zone})` : 'Since midnight', 'kpi-today'),
      kpi('New in 30 days', num(a.new_last_30_days), 'Last 30 days incl. today', 'kpi-30d'),
      kpi(`${paid.stage} conversion`, pct(paid.ratio), `${num(paid.reached)} of ${num(a.total_leads)} leads reached ${paid.stage}`, 'kpi-paid', ring(paid.ratio)));

    const sections = [kpis];
    if (!a.total_leads) {
      sections.push(h('section', { class: 'card' }, empty('No leads yet',
        'Send your first postback from a landing page and it will show up here within seconds.',
        h('a', { class: 'btn btn-primary', href: '#/docs' }, icon('docs'), 'See the postback docs'))));
    }

    const grid = h('div', { class: 'overview-grid' },
      h('section', { class: 'card card-funnel' },
        cardHead('Pipeline Funnel', 'Leads that reached each stage, conversion and average time to the next stage'),
        funnelView(funnel, stages, a.total_leads)),
      h('section', { class: 'card card-sources' },
        cardHead('Top Sources', 'First-touch source of each lead'),
        topSources(a.top_sources || [], a.total_leads)),
      h('section', { class: 'card card-daily' },
        cardHead('New Leads (Last 30 Days)', `${num((a.new_leads_by_day || []).reduce((x, d) => x + (Number(d.count) || 0), 0))} leads in the period`),
        (a.new_leads_by_day || []).length ? dailyBars(a.new_leads_by_day) : empty('No data for this period')));
    sections.push(grid);
    if (a.generated_at) {
      sections.push(h('p', { class: 'footnote' }, `Figures as of ${dateTime(a.generated_at)}${a.time_zone ? ` · reporting time zone ${a.time_zone}` : ''}`));
    }
    setContent(body, sections);
    ctx.ready();
  }
  ctx.onLive((a) => load(a));
  load();
}

function kpi(label, value, hint, cls, extra) {
  return h('div', { class: `kpi ${cls}` },
    h('div', { class: 'kpi-main' },
      h('div', { class: 'kpi-label' }, label),
      h('div', { class: 'kpi-value', 'data-kpi': cls }, value),
      h('div', { class: 'kpi-hint' }, hint)),
    extra || null);
}

function cardHead(title, sub) {
  return h('header', { class: 'card-head' }, h('h2', {}, title), sub ? h('p', { class: 'card-sub' }, sub) : null);
}

function funnelView(funnel, stages, total) {
  if (!funnel.length) return empty('No stages configured');
  const max = Math.max(1, total || 0, ...funnel.map((f) => Number(f.reached) || 0));
  const list = h('ol', { class: 'funnel' });
  funnel.forEach((f, i) => {
    const reached = Number(f.reached) || 0;
    const bar = h('span', { class: `funnel-fill fill-${stageColor(f.stage, stages)}` });
    bar.style.width = `${Math.max(reached ? 2 : 0, (reached / max) * 100)}%`;
    list.append(h('li', { class: 'funnel-row', 'data-stage': f.stage },
      h('div', { class: 'funnel-label' },
        h('span', { class: `dot dot-${stageColor(f.stage, stages)}` }),
        h('span', { class: 'funnel-stage' }, f.stage)),
      h('div', { class: 'funnel-bar' }, bar),
      h('div', { class: 'funnel-nums' },
        h('span', { class: 'funnel-reached', title: 'Reached this stage or later' }, num(reached)),
        h('span', { class: 'funnel-now', title: 'Currently in this stage' }, `${num(f.count)} now`))));
    if (i < funnel.length - 1) {
      list.append(h('li', { class: 'funnel-step', 'aria-label': `From ${f.stage} to ${funnel[i + 1].stage}` },
        h('span', { class: 'step-arrow', 'aria-hidden': 'true' }, '↓'),
        h('span', { class: 'step-conv' }, pct(f.conversion_to_next), h('span', { class: 'muted' }, ' convert')),
        h('span', { class: 'step-time' }, 'avg ', duration(f.avg_seconds_to_next), h('span', { class: 'muted' }, ' to next stage'))));
    }
  });
  return list;
}

function topSources(sources, total) {
  if (!sources.length) return empty('No sources yet', 'Sources come from the first touch of each lead.');
  return hBars(sources.slice(0, 8).map((x) => ({ label: x.source ?? '(none)', value: Number(x.count) || 0 })), { total });
}
