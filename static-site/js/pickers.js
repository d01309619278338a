// Source and campaign pickers: the filter box gets a <datalist> naming every known value with its number of leads
// (GET /api/analytics/values: all time, latest touch, read from counters, so its cost does not grow with leads).
// The box stays a text box: picking a value fills it in, and any other value can still be typed.
import { h } from './dom.js';
import { api } from './api.js';
import { num } from './format.js';

const TTL_MS = 60_000;
const cache = new Map(); // by -> { at, promise }

/** The value counts of `by` ('source' or 'campaign'), shared by the screens for a minute. */
export function valueCounts(by) {
  const hit = cache.get(by);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.promise;
  const promise = api.valueCounts(by);
  promise.catch(() => cache.delete(by));
  cache.set(by, { at: Date.now(), promise });
  return promise;
}

/**
 * Turns `input` into a picker of `by`'s values; returns the <datalist> to put in the page. Once the values are in,
 * the input has data-values="<how many>" (empty list when they could not be read: the box still filters).
 */
export function valuePicker(input, by) {
  const id = `${input.id}-values`;
  const list = h('datalist', { id });
  input.setAttribute('list', id);
  input.setAttribute('autocomplete', 'off');
  valueCounts(by).then((res) => {
    const values = res.values || [];
    for (const v of values) list.append(h('option', { value: v.value, label: `${num(v.leads)} lead${v.leads === 1 ? '' : 's'}` }));
    input.dataset.values = String(values.length);
  }).catch(() => { input.dataset.values = '0'; });
  return list;
}
