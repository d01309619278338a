// Exact money on the dashboard (pure functions, no DOM; unit-tested). Amounts are integers in minor units with their
// currency's ISO 4217 exponent, as the API sends them ({minor, currency, amount?}); sums add the integers (exact below
// 2^53) and are written as decimal text built from the digits, never through float arithmetic.

/** ISO 4217 codes whose minor unit is not 2 decimals (the server's table, shared/core/src/domain/money.rs). */
const EXPONENTS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0,
  XAF: 0, XOF: 0, XPF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3, CLF: 4, UYW: 4,
};

/** Decimals of a currency's minor unit (JPY 0, USD 2, BHD 3). */
export function exponent(currency) {
  const c = String(currency || '').toUpperCase();
  return Object.prototype.hasOwnProperty.call(EXPONENTS, c) ? EXPONENTS[c] : 2;
}

const isMinor = (v) => typeof v === 'number' && Number.isSafeInteger(v);

/** Decimal text of integer minor units: (4999, 'USD') → "49.99", (-5, 'JPY') → "-5", (1234, 'BHD') → "1.234". */
export function decimalText(minor, currency) {
  if (!isMinor(minor)) return '';
  const exp = exponent(currency);
  const neg = minor < 0;
  const digits = String(Math.abs(minor));
  if (!exp) return `${neg ? '-' : ''}${digits}`;
  const padded = digits.padStart(exp + 1, '0');
  return `${neg ? '-' : ''}${padded.slice(0, -exp)}.${padded.slice(-exp)}`;
}

/** An API amount as {minor, currency, amount} (amount filled in from minor when the API left it out), or null. */
export function normalize(m) {
  if (!m || typeof m !== 'object' || !isMinor(m.minor) || typeof m.currency !== 'string') return null;
  const amount = typeof m.amount === 'string' && m.amount ? m.amount : decimalText(m.minor, m.currency);
  return { minor: m.minor, currency: m.currency, amount };
}

const formatters = new Map();
function formatter(currency) {
  let f = formatters.get(currency);
  if (f === undefined) {
    const exp = exponent(currency);
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: exp, maximumFractionDigits: exp });
    } catch { f = null; } // not a currency Intl knows: written as "12.34 XYZ"
    formatters.set(currency, f);
  }
  return f;
}

/**
 * "$49.99", "¥1,500", "BHD 1.234" for an API amount; "—" for null. The decimal text is handed to Intl as a string
 * (exact decimal formatting), so no float ever carries the amount.
 */
export function money(m) {
  const a = normalize(m);
  if (!a) return '—';
  const f = formatter(a.currency);
  if (!f) return `${a.amount} ${a.currency}`;
  try { return f.format(a.amount); } catch { return `${a.amount} ${a.currency}`; }
}

const wordFormatters = new Map();
/**
 * An amount in words for assistive technology, the currency named rather than only a symbol a screen reader may read
 * as any dollar: "49.99 US dollars", "1,500 Japanese yen", "12.34 XYZ" for a code Intl does not know; `none` for null.
 */
export function moneyWords(m, none = 'no value') {
  const a = normalize(m);
  if (!a) return none;
  let f = wordFormatters.get(a.currency);
  if (f === undefined) {
    const exp = exponent(a.currency);
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency: a.currency, currencyDisplay: 'name', minimumFractionDigits: exp, maximumFractionDigits: exp });
    } catch { f = null; }
    wordFormatters.set(a.currency, f);
  }
  if (!f) return `${a.amount} ${a.currency}`;
  try { return f.format(a.amount); } catch { return `${a.amount} ${a.currency}`; }
}

/** "49.99 USD": the spreadsheet-safe text of an amount (no symbol, no grouping), '' for null. */
export function moneyText(m) {
  const a = normalize(m);
  return a ? `${a.amount} ${a.currency}` : '';
}

/** Sum amounts per currency: [{minor, currency, amount}] ordered by currency code. */
export function sumByCurrency(list) {
  const by = new Map();
  for (const m of list || []) {
    const a = normalize(m);
    if (!a) continue;
    by.set(a.currency, (by.get(a.currency) || 0) + a.minor);
  }
  return [...by.keys()].sort().map((currency) => ({ minor: by.get(currency), currency, amount: decimalText(by.get(currency), currency) }));
}

/** The orders of a lead that count: an exact value, not removed. */
export function countedOrders(lead) {
  return (lead && Array.isArray(lead.orders) ? lead.orders : []).filter((o) => o && !o.removed_at && normalize(o.value));
}

/** A lead's revenue: its counted orders summed per currency ([] when it has none). */
export function leadRevenue(lead) {
  return sumByCurrency(countedOrders(lead).map((o) => o.value));
}

/** Several currencies joined for the screen: "$49.99 · ¥1,500"; "—" for none. */
export function moneyList(list, sep = ' · ') {
  const items = (list || []).map(normalize).filter(Boolean);
  return items.length ? items.map(money).join(sep) : '—';
}

/** Several currencies for a CSV cell: "49.99 USD; 1500 JPY"; '' for none. */
export function moneyListText(list) {
  return (list || []).map(moneyText).filter(Boolean).join('; ');
}

/** ROAS as "2.50×"; "—" for null. */
export function roas(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '—';
  return `${Number(v).toFixed(2)}×`;
}

/** A signed amount difference written in the currency: (+1234, 'USD') → "$12.34" (the sign is added by the caller). */
export function moneyAbs(minor, currency) {
  if (!isMinor(minor)) return '—';
  return money({ minor: Math.abs(minor), currency });
}
