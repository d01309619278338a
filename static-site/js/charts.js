// Small hand-made SVG charts. All labels go in via textContent.
import { h, s, clear } from './dom.js';
import { num, shortDay } from './format.js';

/** Pick a "nice" axis maximum and step count. */
function niceMax(max) {
  if (max <= 4) return { top: Math.max(1, max), ticks: Math.max(1, max) };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  return { top: Math.ceil(max / step) * step, ticks: Math.ceil(max / step) };
}

/**
 * Vertical bar chart of [{date, count, to?, prev?}], drawn at the container's pixel width
 * (re-drawn on resize so text never gets squashed on phones). unit 'week': each bar is the week from date to `to`.
 * With `prev` values a dashed line shows the same stretch of the previous period.
 */
export function dailyBars(days, { height = 220, label = 'New leads per day', unit = 'day' } = {}) {
  const host = h('div', { class: 'chart', role: 'img', 'aria-label': label });
  const tip = h('div', { class: 'chart-tip', hidden: true });
  const svgHost = h('div', { class: 'chart-svg' });
  host.append(svgHost, tip);
  const hasPrev = days.some((d) => d.prev !== null && d.prev !== undefined);
  const when = (d) => (unit === 'week' ? `Week of ${shortDay(d.date)}${d.to && d.to !== d.date ? ` – ${shortDay(d.to)}` : ''}` : shortDay(d.date));
  const leads = (c) => `${num(c)} new lead${c === 1 ? '' : 's'}`;

  const draw = (width) => {
    clear(svgHost);
    if (!width) return;
    const pad = { l: 34, r: 8, t: 12, b: 26 };
    const w = width - pad.l - pad.r;
    const ht = height - pad.t - pad.b;
    const max = Math.max(0, ...days.map((d) => Number(d.count) || 0), ...(hasPrev ? days.map((d) => Number(d.prev) || 0) : []));
    const { top, ticks } = niceMax(max);
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'chart-canvas' });
    // grid + y labels
    for (let i = 0; i <= ticks; i++) {
      const v = (top / ticks) * i;
      const y = pad.t + ht - (v / top) * ht;
      svg.append(s('line', { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: i === 0 ? 'axis' : 'grid' }));
      svg.append(s('text', { x: pad.l - 8, y: y + 4, 'text-anchor': 'end', class: 'tick' }, num(Math.round(v * 10) / 10)));
    }
    const n = days.length || 1;
    const slot = w / n;
    const bw = Math.max(2, Math.min(22, slot * 0.68));
    const labelEvery = Math.ceil(n / Math.max(2, Math.floor(w / 56)));
    const prevPoints = [];
    days.forEach((d, i) => {
      const c = Number(d.count) || 0;
      const bh = top ? (c / top) * ht : 0;
      const x = pad.l + i * slot + (slot - bw) / 2;
      const y = pad.t + ht - bh;
      const g = s('g', { class: 'bar-group', tabindex: '0', 'data-date': d.date, 'data-count': c, ...(hasPrev ? { 'data-prev': Number(d.prev) || 0 } : {}) });
      g.append(s('rect', { x: pad.l + i * slot, y: pad.t, width: slot, height: ht, class: 'bar-hit' }));
      g.append(s('rect', { x, y: c ? y : pad.t + ht - 1, width: bw, height: c ? Math.max(bh, 2) : 1, rx: Math.min(3, bw / 2), class: c ? 'bar' : 'bar bar-zero' }));
      const prevText = hasPrev ? ` (previous period: ${num(Number(d.prev) || 0)})` : '';
      g.append(s('title', {}, `${when(d)}: ${leads(c)}${prevText}`));
      if (hasPrev) prevPoints.push(`${pad.l + i * slot + slot / 2},${pad.t + ht - (top ? ((Number(d.prev) || 0) / top) * ht : 0)}`);
      const show = () => {
        tip.textContent = `${when(d)} · ${num(c)} lead${c === 1 ? '' : 's'}${hasPrev ? ` · prev ${num(Number(d.prev) || 0)}` : ''}`;
        tip.hidden = false;
        tip.style.left = `${Math.min(Math.max(x + bw / 2, 50), width - 50)}px`;
        tip.style.top = `${Math.max(y - 8, 0)}px`;
      };
      g.addEventListener('mouseenter', show);
      g.addEventListener('focus', show);
      g.addEventListener('mouseleave', () => { tip.hidden = true; });
      g.addEventListener('blur', () => { tip.hidden = true; });
      svg.append(g);
      if ((n - 1 - i) % labelEvery === 0) {
        svg.append(s('text', { x: pad.l + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle', class: 'tick' }, shortDay(d.date)));
      }
    });
    if (hasPrev && prevPoints.length > 1) svg.append(s('polyline', { points: prevPoints.join(' '), class: 'prev-line' }));
    else if (hasPrev && prevPoints.length === 1) { // one bar: the previous period is a level across its slot
      const y = prevPoints[0].split(',')[1];
      svg.append(s('polyline', { points: `${pad.l + slot * 0.1},${y} ${pad.l + slot * 0.9},${y}`, class: 'prev-line' }));
    }
    svgHost.append(svg);
  };

  let lastWidth = 0;
  const ro = new ResizeObserver((entries) => {
    const width = Math.floor(entries[0].contentRect.width);
    if (width && Math.abs(width - lastWidth) > 1) { lastWidth = width; draw(width); }
  });
  ro.observe(svgHost);
  if (!hasPrev) return host;
  const legend = h('div', { class: 'chart-legend', 'aria-hidden': 'true' },
    h('span', { class: 'legend-item' }, h('span', { class: 'legend-bar' }), 'This period'),
    h('span', { class: 'legend-item' }, h('span', { class: 'legend-line' }), 'Previous period'));
  return h('div', { class: 'chart-wrap' }, host, legend);
}

/** Horizontal bars for [{label, value}] with a share column. */
export function hBars(items, { total, colorClass = 'hbar-fill' } = {}) {
  const max = Math.max(1, ...items.map((i) => i.value));
  const sum = total ?? items.reduce((a, i) => a + i.value, 0);
  return h('ol', { class: 'hbars' }, items.map((item) => {
    const fill = h('span', { class: colorClass });
    fill.style.width = `${Math.max(1.5, (item.value / max) * 100)}%`;
    return h('li', { class: 'hbar' },
      h('div', { class: 'hbar-top' },
        h('span', { class: 'hbar-label', title: item.label }, item.label),
        h('span', { class: 'hbar-value' }, num(item.value),
          sum ? h('span', { class: 'muted' }, ` · ${Math.round((item.value / sum) * 100)}%`) : null)),
      h('span', { class: 'hbar-track' }, fill));
  }));
}

/** A tiny radial progress ring (SVG) for a 0..1 ratio. */
export function ring(ratio, size = 44) {
  const r = size / 2 - 4;
  const c = 2 * Math.PI * r;
  const v = Math.max(0, Math.min(1, Number(ratio) || 0));
  return s('svg', { width: size, height: size, viewBox: `0 0 ${size} ${size}`, class: 'ring', 'aria-hidden': 'true' },
    s('circle', { cx: size / 2, cy: size / 2, r, class: 'ring-track' }),
    v > 0 && s('circle', {
      cx: size / 2, cy: size / 2, r, class: 'ring-fill',
      'stroke-dasharray': `${c * v} ${c}`, transform: `rotate(-90 ${size / 2} ${size / 2})`,
    }));
}
