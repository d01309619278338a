// API client: base URL from config.js, admin key from sessionStorage.

const KEY_STORAGE = 'leadpipe.adminKey';

export function apiBase() {
  const cfg = window.LEADPIPE_CONFIG || {};
  const base = typeof cfg.apiBaseUrl === 'string' && cfg.apiBaseUrl.trim() ? cfg.apiBaseUrl.trim() : location.origin;
  return base.replace(/\/+$/, '');
}

export function getKey() {
  try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch { return ''; }
}
export function setKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
  } catch { /* storage disabled: key lives only in memory for this page */ }
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || `Request failed (${status})`);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let unauthorizedHandler = null;
/** Called with the ApiError whenever an authenticated call answers 401. */
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

/**
 * request('GET', '/api/leads', {query, body, key, signal, noAuthRedirect})
 * Returns parsed JSON (or null for 204).
 */
export async function request(method, path, opts = {}) {
  const url = new URL(apiBase() + path);
  if (opts.query) {
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    }
  }
  const headers = { Accept: 'application/json' };
  const key = opts.key !== undefined ? opts.key : getKey();
  if (key) headers['x-api-key'] = key;
  let body;
  if (opts.raw !== undefined) {
    headers['Content-Type'] = opts.contentType || 'application/octet-stream';
    body = opts.raw;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Could not reach the Leadpipe API. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const apiErr = new ApiError(res.status, err.code || `http_${res.status}`,
      err.message || `The server answered ${res.status}.`, err.field);
    if (res.status === 401 && !opts.noAuthRedirect && unauthorizedHandler) unauthorizedHandler(apiErr);
    throw apiErr;
  }
  if (data === null && text) throw new ApiError(res.status, 'bad_json', 'The server sent a response that is not JSON.');
  return data;
}

/** GET `path` and answer its body as text (a CSV export); errors as request() throws them. */
export async function requestText(path, query) {
  const url = new URL(apiBase() + path);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const key = getKey();
  let res;
  try {
    res = await fetch(url, { headers: key ? { 'x-api-key': key } : {}, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the Leadpipe API. Check your connection and try again.');
  }
  const text = await res.text();
  if (!res.ok) {
    let err = {};
    try { err = (JSON.parse(text) || {}).error || {}; } catch { err = {}; }
    const apiErr = new ApiError(res.status, err.code || `http_${res.status}`, err.message || `The server answered ${res.status}.`, err.field);
    if (res.status === 401 && unauthorizedHandler) unauthorizedHandler(apiErr);
    throw apiErr;
  }
  return text;
}

export const api = {
  health: () => request('GET', '/api/health'),
  /** Accounts: who am I ({kind, email?, name?, role}), sign in (sets the session cookie), sign out. */
  me: (opts = {}) => request('GET', '/api/auth/me', opts),
  /** `second` is {totp} or {recovery_code} for accounts with two-factor on (401 totp_required without it). */
  login: (email, password, second = {}) => request('POST', '/api/auth/login', { body: { email, password, ...second }, key: '', noAuthRedirect: true }),
  /** Two-factor of the signed-in user: setup → {secret, otpauth_uri}; confirm → {recovery_codes}; disable. */
  twoFactorSetup: () => request('POST', '/api/auth/two-factor/setup'),
  twoFactorConfirm: (code) => request('POST', '/api/auth/two-factor/confirm', { body: { code } }),
  twoFactorDisable: (proof) => request('POST', '/api/auth/two-factor/disable', { body: proof }),
  logout: () => request('POST', '/api/auth/logout', { key: '' }),
  logoutAll: () => request('POST', '/api/auth/logout-all'),
  acceptInvite: (token, password) => request('POST', '/api/auth/accept-invite', { body: { token, password }, key: '', noAuthRedirect: true }),
  /** Users (admin): list, invite ({email, role} → {invite_url, expires_at}, shown once), change role / disable. */
  users: () => request('GET', '/api/users'),
  invite: (email, role) => request('POST', '/api/users/invites', { body: { email, role } }),
  changeUser: (id, change) => request('PATCH', `/api/users/${encodeURIComponent(id)}`, { body: change }),
  resetTwoFactor: (id) => request('POST', `/api/users/${encodeURIComponent(id)}/two-factor/reset`),
  stages: () => request('GET', '/api/stages'),
  openapi: () => request('GET', '/api/openapi.json'),
  analytics: (opts = {}) => request('GET', '/api/analytics', opts).then(noteZone),
  /** Figures for leads created from..to (inclusive days in the reporting time zone) and the period before. */
  analyticsRange: (from, to, opts = {}) => request('GET', '/api/analytics', { ...opts, query: { from, to } }).then(noteZone),
  breakdown: (query, opts = {}) => request('GET', '/api/analytics/breakdown', { ...opts, query }),
  abandonment: (query, opts = {}) => request('GET', '/api/analytics/abandonment', { ...opts, query }),
  /** Every source or campaign with its leads, all time: {by, values: [{value, leads}], other}. */
  valueCounts: (by, opts = {}) => request('GET', '/api/analytics/values', { ...opts, query: { by } }),
  leads: (query, opts = {}) => request('GET', '/api/leads', { ...opts, query }),
  /** The same pages as leads(), for members and admins only (viewers may not export): what Export CSV reads. */
  exportLeads: (query, opts = {}) => request('GET', '/api/leads/export', { ...opts, query }),
  /** "Count all": {total, total_exact} for the filters of leads(), exact where the listing says "1,000+". */
  countLeads: (query, opts = {}) => request('GET', '/api/leads/count', { ...opts, query }),
  lead: (id) => request('GET', `/api/leads/${encodeURIComponent(id)}`),
  setStage: (id, stage) => request('PUT', `/api/leads/${encodeURIComponent(id)}/stage`, { body: { stage } }),
  deleteLead: (id) => request('DELETE', `/api/leads/${encodeURIComponent(id)}`),
  /** Privacy (admin): everything held about a person ({email?, phone?, lead_id?}); erase them everywhere (+ suppress). */
  exportPerson: (query) => request('GET', '/api/privacy/export', { query }),
  erasePerson: (body) => request('POST', '/api/privacy/erasure', { body }),
  /** Orders (admin): add (or replace the one with that order_id), change an amount, remove; each answers {lead}. */
  addOrder: (id, body) => request('POST', `/api/leads/${encodeURIComponent(id)}/orders`, { body }),
  editOrder: (id, orderId, body) => request('PUT', `/api/leads/${encodeURIComponent(id)}/orders/${encodeURIComponent(orderId)}`, { body }),
  removeOrder: (id, orderId) => request('DELETE', `/api/leads/${encodeURIComponent(id)}/orders/${encodeURIComponent(orderId)}`),
  /** Revenue of the leads in each stage now (all time, unfiltered), with the weighted pipeline value. */
  pipelineValue: (opts = {}) => request('GET', '/api/analytics/pipeline', opts),
  /** Imports a CSV or JSON-lines file (a File or string); answers {imported, updated, unchanged, rejected, rejected_total}. */
  importLeads: (raw, contentType) => request('POST', '/api/import', { raw, contentType }),
  /** Take a quarantined lead out of quarantine (admin). */
  releaseLead: (id) => request('POST', `/api/leads/${encodeURIComponent(id)}/release`),
  /** The audit log (admin): from, to, actor, action, target, paged by cursor; answers {entries, next_cursor}. */
  audit: (query, opts = {}) => request('GET', '/api/audit', { ...opts, query }),
  /** The audit log of a filter as CSV text (admin). */
  auditCsv: (query) => requestText('/api/audit/export', query),
  /** The postback log (admin): status rejected | quarantined, paged by cursor. */
  postbacks: (query, opts = {}) => request('GET', '/api/postbacks', { ...opts, query }),
  /** Webhooks (admin): list, create (answers the secret, once), delete, re-enable. */
  webhooks: () => request('GET', '/api/webhooks'),
  createWebhook: (body) => request('POST', '/api/webhooks', { body }),
  deleteWebhook: (id) => request('DELETE', `/api/webhooks/${encodeURIComponent(id)}`),
  enableWebhook: (id) => request('POST', `/api/webhooks/${encodeURIComponent(id)}/enable`),
  /** A webhook's deliveries, newest first, paged by next_after. */
  deliveries: (id, query) => request('GET', `/api/webhooks/${encodeURIComponent(id)}/deliveries`, { query }),
  /** Imports an ad spend file (Google Ads, Meta or native CSV): {format, stored, rejected: [{line, field, message}], rejected_total, skipped}. */
  importSpend: (raw, query) => request('POST', '/api/spend/import', { raw, contentType: 'text/csv', query }),
  /** Spend rows of from..to: {from, to, rows: [{key, day, source, campaign, domain?, amount: {minor, currency, amount}, clicks?, impressions?}]}. */
  spend: (from, to) => request('GET', '/api/spend', { query: { from, to } }),
  /** Exchange rates: {reporting_currency, rates: [{day, currency, rate}]}; set, import (CSV) and delete them. */
  rates: () => request('GET', '/api/rates'),
  putRates: (rows) => request('PUT', '/api/rates', { body: { rows } }),
  importRates: (raw) => request('POST', '/api/rates/import', { raw, contentType: 'text/csv' }),
  deleteRate: (currency, day) => request('DELETE', `/api/rates/${encodeURIComponent(currency)}/${encodeURIComponent(day)}`),
  retryDelivery: (id, deliveryId) => request('POST', `/api/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/retry`),
};

// Stages are small and public; cache them for the page's lifetime (refreshable).
let stagesPromise = null;
export function loadStages(force = false) {
  if (force || !stagesPromise) {
    stagesPromise = api.stages().then((d) => {
      if (!d || !Array.isArray(d.stages)) throw new ApiError(200, 'bad_stages', 'The stage list is malformed.');
      return d.stages.map(String);
    }).catch((e) => { stagesPromise = null; throw e; });
  }
  return stagesPromise;
}

// The reporting time zone (IANA name) the analytics API reports; date presets are resolved in it.
let zone = null;
function noteZone(a) {
  if (a && typeof a.time_zone === 'string' && a.time_zone) zone = a.time_zone;
  return a;
}
/** The reporting time zone, asking the API once when no analytics answer has been seen yet. */
export async function reportingZone() {
  if (!zone) await api.analytics();
  return zone || 'UTC';
}
