// Overview over any range: KPI tiles, funnel, top sources and new leads per day, each beside the previous period
// of equal length and the change. The range lives in the URL (#/overview?range=7d or ?from=…&to=…).
// Stages, sources and the chart's days open All Leads filtered the same way (creation dates = the range).
import { h, icon } from '../dom.js';
import { api, loadStages, reportingZone } from '../api.js';
import { num, pct, duration, stageColor, dateTime, dayRange } from '../format.js';
import { loading, errorState, empty, setContent } from '../ui.js';
import { dailyBars, ring } from '../charts.js';
import { todayIn, chartBuckets, compareSources } from '../range.js';
import { rangeFromQuery, rangePicker, reportQuery, compare } from '../report-ui.js';
import { money, moneyAbs, moneyWords, normalize, roas as roasText } from '../money.js';
import { moneyEl, noValue, notConvertedEl } from '../money-ui.js';

/** Conversion to the "Paid" stage (or the last one) of a period: reached / new leads. */
export function paidConversion(period) {
  const funnel = Array.isArray(period.funnel) ? period.funnel : [];
  const paid = funnel.find((f) => String(f.stage).toLowerCase() === 'paid') || funnel[funnel.length - 1];
  if (!paid) return { ratio: null, stage: 'Paid', reached: 0 };
  const leads = Number(period.new_leads) || 0;
  const reached = Number(paid.reached) || 0;
  return { ratio: leads ? reached / leads : null, stage: paid.stage, reached };
}

/** All Leads for leads created in [from, to], with extra filters (stage, source, campaign). */
export function leadsLink(filters, range) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
  p.set('from', range.from);
  p.set('to', range.to);
  return `#/leads?${p}`;
}

/** Values that name no single source/campaign and so cannot be a filter. */
export const AGGREGATES = new Set(['(none)', '(other)']);

export function renderOverview(root, ctx, params = {}) {
  ctx.setTitle('Overview', 'How your pipeline is performing');
  const refresh = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'refresh', 'aria-label': 'Refresh', onclick: () => load() },
    icon('refresh'), h('span', { class: 'btn-label', 'aria-hidden': 'true' }, 'Refresh'));
  ctx.setActions(refresh);
  const pickerHost = h('div', { class: 'range-host' });
  const body = h('div', { class: 'overview' });
  root.append(pickerHost, body);

  let spec = null;
  let range = null;
  let picker = null;
  let zone = 'UTC';
  let seq = 0;

  function setSpec(next) {
    spec = next;
    const qs = reportQuery(spec);
    history.replaceState(null, '', `#/overview${qs ? `?${qs}` : ''}`);
    ctx.shareRange(qs);
    load();
  }

  /** load(): with a spinner; load({quiet: true}): keep the figures on screen while refreshing (live updates). */
  async function load({ quiet = false } = {}) {
    const mine = ++seq;
    ctx.busy();
    if (!quiet) setContent(body, loading('Loading analytics…'));
    let a;
    let stages = [];
    try {
      zone = await reportingZone();
      const today = todayIn(zone);
      if (!spec) {
        const r = rangeFromQuery(params.query || new URLSearchParams(), today);
        spec = r.spec;
        picker = rangePicker({ id: 'ov', spec, range: r.range, zone, error: r.error, onChange: setSpec });
        setContent(pickerHost, picker.el);
        ctx.shareRange(reportQuery(spec));
      }
      range = rangeFromQuery(new URLSearchParams(reportQuery(spec)), today).range;
      [a, stages] = await Promise.all([api.analyticsRange(range.from, range.to), loadStages().catch(() => [])]);
    } catch (e) {
      if (e.status === 401 || mine !== seq) return;
      setContent(body, errorState(e, () => load()));
      ctx.ready();
      return;
    }
    if (!root.isConnected || mine !== seq) return;
    render(a, stages);
    ctx.ready();
  }

  function render(a, stages) {
    const prev = a.previous || { funnel: [], top_sources: [], new_leads_by_day: [], new_leads: null };
    const cur = { from: a.from || range.from, to: a.to || range.to };
    cur.days = (a.new_leads_by_day || []).length || range.days;
    picker.describe(cur, prev.from ? { from: prev.from, to: prev.to } : null, a.time_zone);
    const funnel = Array.isArray(a.funnel) ? a.funnel : [];
    if (!stages.length) stages = funnel.map((f) => f.stage);
    const paid = paidConversion(a);
    const paidPrev = paidConversion(prev);
    const period = dayRange(cur.from, cur.to);

    const kpis = h('section', { class: 'kpis', 'aria-label': 'Key figures' },
      kpi('New leads', num(a.new_leads), period, 'kpi-new', compare(a.new_leads, prev.new_leads)),
      kpi(`${paid.stage} conversion`, pct(paid.ratio), `${num(paid.reached)} of ${num(a.new_leads)} new leads reached ${paid.stage}`, 'kpi-paid',
        compare(paid.ratio, paidPrev.ratio, { rate: true, format: (v) => pct(v) }), ring(paid.ratio)),
      kpi('Total leads', num(a.total_leads), `All time${a.quarantined ? ` · ${num(a.quarantined)} quarantined, not counted` : ''}`, 'kpi-total'),
      kpi('New today', num(a.new_today), a.time_zone ? `Since midnight (${a.time_zone})` : 'Since midnight', 'kpi-today'));

    const sections = [kpis];
    if (a.money && typeof a.money === 'object') sections.push(moneyKpis(a.money, prev.money || null, period));
    if (!a.total_leads) {
      sections.push(h('section', { class: 'card' }, empty('No leads yet',
        'Send your first postback from a landing page and it will show up here within seconds.',
        h('a', { class: 'btn btn-primary', href: '#/docs' }, icon('docs'), 'See the postback docs'))));
    }
    const { unit, buckets } = chartBuckets(a.new_leads_by_day || [], prev.new_leads_by_day || null);
    const grid = h('div', { class: 'overview-grid' },
      h('section', { class: 'card card-funnel', 'aria-labelledby': 'h-funnel' },
        cardHead('h-funnel', 'Pipeline Funnel', `Leads created ${period}: stage reached, now in stage, conversion and time to the next stage. Select a stage to list its leads.`),
        funnelView(funnel, prev.funnel || [], stages, a.new_leads, cur)),
      h('section', { class: 'card card-sources', 'aria-labelledby': 'h-sources' },
        cardHead('h-sources', 'Top Sources', 'First-touch source of the leads created in the range. Select one to list its leads (All Leads matches the latest source, so leads whose source changed may differ).'),
        sourcesView(compareSources(a.top_sources || [], prev.top_sources || []), a.new_leads, cur)),
      h('section', { class: 'card card-daily', 'aria-labelledby': 'h-daily' },
        cardHead('h-daily', `New Leads · ${period}`, h('span', {}, `${num(a.new_leads)} lead${a.new_leads === 1 ? '' : 's'} in the period${unit === 'week' ? ', by week' : ''} · `,
          compare(a.new_leads, prev.new_leads))),
        buckets.length ? dailyBars(buckets, { unit, label: `New leads per ${unit} from ${period}: ${num(a.new_leads)} in total, ${num(prev.new_leads)} in the previous period` }) : empty('No data for this period')));
    sections.push(grid);
    if (a.generated_at) {
      sections.push(h('p', { class: 'footnote' }, `Figures as of ${dateTime(a.generated_at)}${a.time_zone ? ` · reporting time zone ${a.time_zone}` : ''} · every figure counts the leads created in the range`));
    }
    setContent(body, sections);
  }

  ctx.onLive(() => load({ quiet: true }));
  load();
}

function kpi(label, value, hint, cls, cmp, extra) {
  return h('div', { class: `kpi ${cls}` },
    h('div', { class: 'kpi-main' },
      h('div', { class: 'kpi-label' }, label),
      h('div', { class: 'kpi-value', 'data-kpi': cls }, value),
      cmp ? h('div', { class: 'kpi-cmp' }, cmp) : null,
      h('div', { class: 'kpi-hint' }, hint)),
    extra || null);
}

/**
 * Money KPI cards beside the previous period: revenue, spend, profit, ROAS, CPL, paying leads, average order value,
 * revenue per lead. Null figures (no spend, nothing to divide by) show "—", never 0 % or ∞; amounts without a rate
 * are shown apart under Revenue and Spend, never added in.
 */
export function moneyKpis(m, p, period) {
  const amountCmp = (key, opts = {}) => {
    const cur = normalize(m[key]);
    const before = p ? normalize(p[key]) : null;
    const same = cur && before && cur.currency === before.currency;
    const of = (v) => ({ minor: v, currency: cur.currency });
    return compare(cur ? cur.minor : null, same ? before.minor : null, {
      format: (v) => money(of(v)), words: (v) => moneyWords(of(v)),
      absFormat: (v) => moneyAbs(v, cur.currency), absWords: (v) => moneyWords(of(Math.abs(v))), ...opts,
    });
  };
  const apart = (list, what) => notConvertedEl(list, { what });
  const ratio = (v) => (v === null || v === undefined ? null : Number(v));
  const roi = ratio(m.roi);
  // "—" is read "no value" (no spend rows) or "not applicable" (nothing to divide by), never as a dash.
  const ratioEl = (v) => (v === null ? noValue('not applicable') : roasText(v));
  return h('section', { class: 'kpis kpis-money', 'aria-label': 'Money' },
    kpi('Revenue', moneyEl(m.revenue), [`${num(m.orders)} order${m.orders === 1 ? '' : 's'} placed ${period}`,
      m.orders_kept_apart ? ` · ${num(m.orders_kept_apart)} kept apart` : '', apart(m.revenue_not_converted, 'revenue')], 'kpi-revenue', amountCmp('revenue')),
    kpi('Spend', moneyEl(m.spend, 'no spend'), [m.spend ? `${num(m.clicks)} clicks · ${num(m.impressions)} impressions` : 'No spend rows for this range',
      apart(m.spend_not_converted, 'spend')], 'kpi-spend', amountCmp('spend', { neutral: true })),
    kpi('Profit', moneyEl(m.profit, 'not applicable'), 'Revenue − spend', 'kpi-profit', amountCmp('profit')),
    kpi('ROAS', ratioEl(ratio(m.roas)), ['Revenue ÷ spend · ROI ', roi === null ? noValue('not applicable') : pct(roi)], 'kpi-roas',
      compare(ratio(m.roas), p ? ratio(p.roas) : null, { format: roasText, absFormat: (v) => `${Math.abs(v).toFixed(2)}×` })),
    kpi('CPL', moneyEl(m.cpl, 'not applicable'), 'Spend ÷ new leads', 'kpi-cpl', amountCmp('cpl', { neutral: true })),
    kpi('Paying leads', num(m.paying_leads), 'New leads in the range with an order', 'kpi-paying', compare(m.paying_leads, p ? p.paying_leads : null)),
    kpi('Average order', moneyEl(m.average_order_value, 'not applicable'), 'Revenue ÷ orders', 'kpi-aov', amountCmp('average_order_value')),
    kpi('Revenue per lead', moneyEl(m.revenue_per_lead, 'not applicable'), 'Revenue ÷ new leads', 'kpi-rpl', amountCmp('revenue_per_lead')));
}

function cardHead(id, title, sub) {
  return h('header', { class: 'card-head' }, h('h2', { id }, title), sub ? h('p', { class: 'card-sub' }, sub) : null);
}

function funnelView(funnel, prevFunnel, stages, newLeads, range) {
  if (!funnel.length) return empty('No stages configured');
  const prevOf = new Map(prevFunnel.map((f) => [f.stage, f]));
  const max = Math.max(1, newLeads || 0, ...funnel.map((f) => Number(f.reached) || 0));
  const list = h('ol', { class: 'funnel' });
  funnel.forEach((f, i) => {
    const p = prevOf.get(f.stage) || {};
    const reached = Number(f.reached) || 0;
    const bar = h('span', { class: `funnel-fill fill-${stageColor(f.stage, stages)}` });
    bar.style.width = `${Math.max(reached ? 2 : 0, (reached / max) * 100)}%`;
    list.append(h('li', { class: 'funnel-row', 'data-stage': f.stage },
      h('div', { class: 'funnel-label' },
        h('span', { class: `dot dot-${stageColor(f.stage, stages)}` }),
        h('a', {
          class: 'funnel-stage funnel-link', href: leadsLink({ stage: f.stage }, range), 'data-action': 'open-stage',
          'aria-label': `${f.stage}: list the ${num(f.count)} lead${Number(f.count) === 1 ? '' : 's'} now in this stage`,
        }, f.stage)),
      h('div', { class: 'funnel-bar', 'aria-hidden': 'true' }, bar),
      h('div', { class: 'funnel-nums' },
        h('div', { class: 'funnel-fig' },
          h('span', { class: 'funnel-reached' }, num(reached), h('span', { class: 'fig-unit' }, ' reached')),
          compare(reached, p.reached)),
        h('div', { class: 'funnel-fig' },
          h('span', { class: 'funnel-now' }, `${num(f.count)} now`),
          compare(f.count, p.count)))));
    if (i < funnel.length - 1) {
      list.append(h('li', { class: 'funnel-step', 'data-from': f.stage },
        h('span', { class: 'step-arrow', 'aria-hidden': 'true' }, '↓'),
        h('span', { class: 'sr-only' }, `From ${f.stage} to ${funnel[i + 1].stage}: `),
        h('span', { class: 'step-conv' }, pct(f.conversion_to_next), h('span', { class: 'muted' }, ' convert'), ' ',
          compare(f.conversion_to_next, p.conversion_to_next, { rate: true, format: (v) => pct(v) })),
        h('span', { class: 'step-time' }, 'avg ', duration(f.avg_seconds_to_next), h('span', { class: 'muted' }, ' to next stage'),
          h('span', { class: 'cmp-prev step-time-prev' }, h('span', { 'aria-hidden': 'true' }, ' · prev '), h('span', { class: 'sr-only' }, ', previous period '),
            duration(p.avg_seconds_to_next)))));
    }
  });
  return list;
}

function sourcesView(rows, total, range) {
  if (!rows.length) return empty('No sources in this period', 'Sources come from the first touch of each lead.');
  const max = Math.max(1, ...rows.map((r) => r.count));
  return h('ol', { class: 'hbars sources' }, rows.slice(0, 12).map((r) => {
    const fill = h('span', { class: 'hbar-fill' });
    fill.style.width = `${r.count ? Math.max(1.5, (r.count / max) * 100) : 0}%`;
    const label = AGGREGATES.has(r.source)
      ? h('span', { class: 'hbar-label', title: r.source === '(none)' ? 'Leads without a source' : 'All other sources' }, r.source)
      : h('a', {
        class: 'hbar-label source-link', href: leadsLink({ source: r.source }, range), 'data-action': 'open-source',
        'aria-label': `${r.source}: list its leads`, title: `List the leads from ${r.source}`,
      }, r.source);
    return h('li', { class: 'hbar', 'data-source': r.source },
      h('div', { class: 'hbar-top' },
        label,
        h('span', { class: 'hbar-value' }, num(r.count),
          total ? h('span', { class: 'muted' }, ` · ${Math.round((r.count / total) * 100)}%`) : null)),
      h('span', { class: 'hbar-track', 'aria-hidden': 'true' }, fill),
      h('div', { class: 'hbar-cmp' }, compare(r.count, r.prev)));
  }));
}
