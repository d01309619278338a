// Shared pieces of the report screens (Overview, Campaigns, Abandonment): the date-range picker and the
// "previous period and change" text shown beside a figure.
import { h, icon } from './dom.js';
import { num, dayRange } from './format.js';
import { PRESETS, parseRange, rangeParams, resolveRange, validateCustom, delta, rateDelta, deltaText, deltaWords } from './range.js';

/**
 * The range a report screen shows, from its URL query; resolved in the reporting zone's `today`.
 * Returns {spec, range, error}.
 */
export function rangeFromQuery(q, today) {
  const spec = parseRange(q);
  return { spec, range: resolveRange(spec, today), error: spec.error || null };
}

/**
 * Date-range picker: a preset <select> (Today … This month, Custom) and From/To dates, with one inline message.
 * onChange(spec) is called with {preset} or {from, to} once the choice is valid.
 */
export function rangePicker({ id = 'r', spec, range, zone, error, onChange }) {
  const sel = h('select', { class: 'select', id: `${id}-preset`, name: 'range', 'data-action': 'range-preset' },
    PRESETS.map((p) => h('option', { value: p.id, selected: !spec.from && spec.preset === p.id }, p.label)),
    h('option', { value: 'custom', selected: Boolean(spec.from) }, 'Custom range'));
  const from = h('input', { class: 'input', type: 'date', id: `${id}-from`, name: 'from', value: range.from, 'aria-describedby': `${id}-error`, max: '9999-12-31' });
  const to = h('input', { class: 'input', type: 'date', id: `${id}-to`, name: 'to', value: range.to, 'aria-describedby': `${id}-error`, max: '9999-12-31' });
  const message = h('p', { class: 'filter-error range-error', id: `${id}-error`, role: 'alert', hidden: true });
  const desc = h('p', { class: 'range-desc', id: `${id}-desc` });
  const apply = h('button', { class: 'btn btn-secondary', type: 'submit', 'data-action': 'apply-range' }, 'Apply');
  const field = (label, fid, control) => h('div', { class: 'filter' }, h('label', { class: 'filter-label', for: fid }, label), control);

  function showError(text) {
    message.hidden = !text;
    message.textContent = text || '';
    for (const el of [from, to]) { if (text) el.setAttribute('aria-invalid', 'true'); else el.removeAttribute('aria-invalid'); }
  }
  function applyCustom() {
    const err = validateCustom(from.value, to.value);
    showError(err);
    if (err) return;
    sel.value = 'custom';
    onChange({ from: from.value, to: to.value });
  }
  sel.addEventListener('change', () => {
    if (sel.value === 'custom') { showError(null); from.focus(); return; }
    showError(null);
    onChange({ preset: sel.value });
  });
  for (const el of [from, to]) el.addEventListener('change', applyCustom);

  const form = h('form', {
    class: 'range-bar card', 'aria-label': 'Reporting period', novalidate: true,
    onsubmit: (e) => { e.preventDefault(); applyCustom(); },
  },
  field('Date range', `${id}-preset`, sel), field('From', `${id}-from`, from), field('To', `${id}-to`, to),
  h('div', { class: 'filter filter-buttons' }, apply), desc, message);
  if (error) showError(`${error} Showing the last 30 days instead.`);

  return {
    el: form,
    /** Describe the dates shown and the period they are compared with. */
    describe(cur, prev, tz) {
      // The dates shown are the dates reported (a preset resolved in the reporting zone).
      if (!from.matches('[aria-invalid]')) { from.value = cur.from; to.value = cur.to; }
      desc.textContent = '';
      desc.append(h('strong', {}, dayRange(cur.from, cur.to)),
        ` · ${num(cur.days)} day${cur.days === 1 ? '' : 's'}`,
        prev ? ` · compared with ${dayRange(prev.from, prev.to)}` : '',
        ` · reporting time zone ${tz || zone || 'UTC'}`);
    },
  };
}

/** A stable query string for a report screen: range first, then the screen's own keys. */
export function reportQuery(spec, extra = []) {
  const p = new URLSearchParams(rangeParams(spec));
  for (const [k, v] of extra) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  return p.toString();
}

/**
 * "prev 12 · ▲ +5 (+41.7%)" beside a figure. opts: {rate: true} for 0..1 ratios (delta in percentage points),
 * {format} for the previous value, {absFormat} for the size of the change (e.g. minor units written as money),
 * {neutral: true} for figures where up is not better (no colour); {words, absWords} for what screen readers are given
 * instead of format/absFormat (e.g. "49.99 US dollars" for "$49.99"). A missing previous value is "—", read "none".
 */
export function compare(cur, prev, { rate = false, format = num, neutral = false, absFormat, words, absWords } = {}) {
  const d = rate ? rateDelta(cur, prev) : delta(cur, prev);
  // Glyphs from DejaVu Sans and every other common system font; "no change" is an inline SVG (see dom.js).
  const arrow = { up: '▲', down: '▼', new: '★', flat: icon('equal'), none: '' }[d.kind];
  const missing = prev === null || prev === undefined;
  const prevText = missing ? '—' : format(prev);
  const prevSaid = missing ? 'none' : words ? words(prev) : prevText;
  const text = deltaText(d, absFormat);
  return h('span', { class: 'cmp', 'data-kind': d.kind, 'data-delta': text, 'data-prev': prevText },
    h('span', { class: 'cmp-prev' }, h('span', { 'aria-hidden': 'true' }, 'prev '), h('span', { class: 'sr-only' }, 'previous period '),
      prevSaid === prevText ? prevText : [h('span', { 'aria-hidden': 'true' }, prevText), h('span', { class: 'sr-only' }, prevSaid)]),
    d.kind === 'none' ? null : h('span', { class: `delta delta-${neutral ? 'neutral' : d.kind}` },
      arrow ? h('span', { class: 'delta-arrow', 'aria-hidden': 'true' }, arrow) : null,
      h('span', { 'aria-hidden': 'true' }, text),
      h('span', { class: 'sr-only' }, `, ${deltaWords(d, absWords || absFormat)}`)));
}
