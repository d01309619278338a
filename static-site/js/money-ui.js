// Money on screen for the eye and for assistive technology: the compact form is shown ("$49.99", "—") and hidden from
// screen readers, which are given the amount with its currency in words ("49.99 US dollars") or a word for "—".
import { h } from './dom.js';
import { money, moneyWords, normalize } from './money.js';

/** `shown` for the eye, `said` for screen readers (both plain text). */
export function spoken(shown, said) {
  if (shown === said) return h('span', {}, shown);
  return h('span', { class: 'spoken' }, h('span', { 'aria-hidden': 'true' }, shown), h('span', { class: 'sr-only' }, said));
}

/** "—" on screen, `label` ("no value", "none", "not applicable") read. */
export function noValue(label = 'no value') {
  return spoken('—', label);
}

/** An API amount: "$49.99" shown, "49.99 US dollars" read; null: "—" shown, `none` read. */
export function moneyEl(m, none = 'no value') {
  const a = normalize(m);
  return a ? spoken(money(a), moneyWords(a)) : noValue(none);
}

/** Several amounts (one per currency) joined by `sep`; "—" (read as `none`) for none. */
export function moneyListEl(list, { sep = ' · ', none = 'no value' } = {}) {
  const items = (list || []).map(normalize).filter(Boolean);
  if (!items.length) return noValue(none);
  return h('span', {}, items.map((a, i) => [i ? h('span', { 'aria-hidden': 'true' }, sep) : null, i ? h('span', { class: 'sr-only' }, ', ') : null, moneyEl(a)]));
}

/**
 * Amounts kept apart for want of an exchange rate: "+ BHD 1.234 not converted" (or without the words on screen when
 * `short`), always read as "… not converted".
 */
export function notConvertedEl(list, { short = false, what = null, title = 'No exchange rate for these days: kept apart, not counted' } = {}) {
  if (!Array.isArray(list) || !list.length) return null;
  return h('span', { class: 'not-converted', 'data-not-converted': what, title },
    h('span', { 'aria-hidden': 'true' }, '+ '), h('span', { class: 'sr-only' }, ' plus '), moneyListEl(list),
    short ? h('span', { class: 'sr-only' }, ' not converted') : ' not converted');
}
