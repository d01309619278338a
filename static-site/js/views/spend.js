// Ad spend and exchange rates: the "Ad spend" card of the Import screen (a Google Ads, Meta or native CSV through
// POST /api/spend/import, with its report and rejected lines) and the "Exchange rates" card of Settings (the
// rates of GET /api/rates, a form to set one through PUT /api/rates, a CSV through POST /api/rates/import).
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { setContent, toast } from '../ui.js';

const MAX_BYTES = 4 * 1024 * 1024;
const FORMATS = [
  ['auto', 'Recognise from the header'],
  ['google_ads', 'Google Ads: campaign report by day'],
  ['meta', 'Meta Ads Manager: breakdown by day'],
  ['native', 'Leadpipe: day,source,campaign,domain,amount,currency,clicks,impressions'],
];
const FORMAT_NAMES = { google_ads: 'Google Ads', meta: 'Meta Ads Manager', native: 'Leadpipe', rates: 'rates' };

/** The table of rejected lines of an import report; `label` names its scrolling region (unique on the screen). */
function rejectedTable(rejected, testid, label) {
  if (!rejected.length) return null;
  return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': label },
    h('table', { class: 'table', 'data-testid': testid },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Why it was rejected'))),
      h('tbody', {}, ...rejected.map((x) => h('tr', {},
        h('td', {}, String(x.line)), h('td', {}, x.field), h('td', { class: 'cell-error' }, x.message))))));
}

/**
 * An import report: a polite live status with its one-line summary (or error), and the table of rejected lines beside
 * it, outside the live region (a whole table would be read out at every import).
 */
function reportArea(testid) {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const detail = h('div', {});
  return {
    el: h('div', { class: 'import-report', 'data-testid': testid }, status, detail),
    show(said, table = null) { setContent(status, said); setContent(detail, table); },
  };
}

/** The "Ad spend" card of the Import screen. */
export function spendImportCard() {
  const input = h('input', { class: 'file-input', type: 'file', id: 'spend-file', accept: '.csv,.tsv,text/csv', 'aria-describedby': 'spend-help' });
  const format = h('select', { class: 'select', id: 'spend-format' }, FORMATS.map(([v, label]) => h('option', { value: v }, label)));
  const source = h('input', { class: 'input', id: 'spend-source', type: 'text', maxlength: '64', placeholder: 'google / facebook (from the format)', autocomplete: 'off' });
  const currency = h('input', { class: 'input', id: 'spend-currency', type: 'text', maxlength: '3', placeholder: 'from the file', autocomplete: 'off' });
  const button = h('button', { class: 'btn btn-primary', type: 'button', disabled: true, 'data-testid': 'spend-run' }, icon('upload'), 'Import spend');
  const { el: report, show } = reportArea('spend-report');
  let file = null;

  input.addEventListener('change', () => {
    file = input.files && input.files[0];
    show(null);
    button.disabled = !file;
    if (file && file.size > MAX_BYTES) {
      show(h('p', { class: 'form-error' }, `This file is ${(file.size / 1048576).toFixed(1)} MB: spend files go up to 4 MB. Split it by date range.`));
      button.disabled = true;
    }
  });

  button.addEventListener('click', async () => {
    if (!file) return;
    button.disabled = true;
    show(h('p', { class: 'muted' }, 'Importing…'));
    try {
      const r = await api.importSpend(file, { format: format.value, source: source.value.trim(), currency: currency.value.trim() });
      const rejected = r.rejected || [];
      show(h('p', { 'data-testid': 'spend-summary', class: 'import-summary' },
        `${FORMAT_NAMES[r.format] || r.format}: ${r.stored} row(s) stored, ${r.rejected_total} rejected${r.skipped ? `, ${r.skipped} total row(s) skipped` : ''}`),
      rejectedTable(rejected, 'spend-rejected', 'Rejected spend rows'));
      toast(`Spend imported: ${r.stored} row(s)`);
    } catch (e) {
      show(h('p', { class: 'form-error' }, e.message));
    } finally {
      button.disabled = !file;
    }
  });

  return h('section', { class: 'card spend-import', 'aria-labelledby': 'spend-title', 'data-testid': 'spend-card' },
    h('div', { class: 'card-head' }, h('h2', { id: 'spend-title' }, 'Ad spend'),
      h('p', { class: 'card-sub' }, 'What each campaign cost per day, for cost per lead and ROAS. Import the platforms\' exports as they are.')),
    h('div', { class: 'settings-body import-body' },
      h('div', { class: 'form-field' },
        h('label', { class: 'field-label', for: 'spend-file' }, 'Spend file (CSV, up to 4 MB)'),
        input,
        h('p', { class: 'muted small', id: 'spend-help' }, 'A Google Ads campaign report by day (Reports → Campaigns, segment by Day, download CSV), a Meta Ads Manager export with the breakdown by Day, or Leadpipe\'s own columns. Importing an overlapping range again replaces those days\' rows: nothing is counted twice.')),
      h('div', { class: 'spend-options' },
        h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'spend-format' }, 'Format'), format),
        h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'spend-source' }, 'Source (optional)'), source),
        h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'spend-currency' }, 'Currency if the file has none'), currency)),
      h('div', { class: 'form-actions' }, button),
      report));
}

/** The "Exchange rates" card of Settings. */
export function ratesCard() {
  const reporting = h('p', { class: 'card-sub', 'data-testid': 'rates-reporting' }, 'Amounts are reported in the reporting currency.');
  const listHost = h('div', { 'data-testid': 'rates-list' });
  const day = h('input', { class: 'input', id: 'rate-day', type: 'date', required: true });
  const cur = h('input', { class: 'input', id: 'rate-currency', type: 'text', maxlength: '3', placeholder: 'EUR', required: true, autocomplete: 'off' });
  const rate = h('input', { class: 'input', id: 'rate-value', type: 'text', inputmode: 'decimal', placeholder: '1.08', required: true, autocomplete: 'off' });
  const problem = h('p', { class: 'form-error', role: 'alert', id: 'rates-problem', 'data-testid': 'rates-problem' });
  const inputs = { day, currency: cur, rate };
  /** The form's message, the fields it is about marked invalid and described by it, focus on the first of them. */
  function setProblem(text, bad = []) {
    setContent(problem, text || null);
    for (const [k, el] of Object.entries(inputs)) {
      const on = Boolean(text) && bad.includes(k);
      if (on) { el.setAttribute('aria-invalid', 'true'); el.setAttribute('aria-describedby', 'rates-problem'); } else { el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby'); }
    }
    const first = Object.keys(inputs).find((k) => Boolean(text) && bad.includes(k));
    if (first) inputs[first].focus();
  }
  const fileInput = h('input', { class: 'file-input', type: 'file', id: 'rates-file', accept: '.csv,text/csv' });
  const { el: importReport, show: showImport } = reportArea('rates-report');

  async function load() {
    try {
      const r = await api.rates();
      reporting.textContent = `Reporting currency: ${r.reporting_currency} (REPORTING_CURRENCY). A rate is how many ${r.reporting_currency} one unit of the currency is worth from its day on; an amount without a rate is shown apart, never as 0.`;
      const rates = r.rates || [];
      setContent(listHost, rates.length
        ? h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Stored exchange rates' },
          h('table', { class: 'table', 'data-testid': 'rates-table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Currency'), h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, `Rate (${r.reporting_currency} per unit)`), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
            h('tbody', {}, ...rates.map((x) => h('tr', { 'data-rate': `${x.currency} ${x.day}` },
              h('td', {}, x.currency), h('td', {}, x.day), h('td', { class: 'num' }, x.rate),
              h('td', {}, h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'aria-label': `Edit ${x.currency} from ${x.day}`, onclick: () => { day.value = x.day; cur.value = x.currency; rate.value = x.rate; rate.focus(); } }, 'Edit'),
                ' ',
                h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'delete-rate', 'aria-label': `Delete ${x.currency} from ${x.day}`, onclick: () => remove(x, rates.indexOf(x)) }, 'Delete')))))))
        : h('p', { class: 'muted' }, 'No exchange rates yet: amounts in other currencies stay unconverted until you add one.'));
    } catch (e) {
      if (e.status === 401) return;
      setContent(listHost, h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  /** Delete a rate; focus then moves to the Delete button now in its row's place (or the form when none is left). */
  async function remove(x, at) {
    try {
      await api.deleteRate(x.currency, x.day);
      toast(`Rate of ${x.currency} from ${x.day} deleted`);
      await load();
      const left = listHost.querySelectorAll('[data-action=delete-rate]');
      (left[Math.min(at, left.length - 1)] || day).focus();
    } catch (e) {
      setProblem(e.message);
    }
  }

  const form = h('form', { class: 'rate-form', 'data-testid': 'rate-form', novalidate: true },
    h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'rate-day' }, 'From day'), day),
    h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'rate-currency' }, 'Currency'), cur),
    h('div', { class: 'form-field' }, h('label', { class: 'field-label', for: 'rate-value' }, 'Rate'), rate),
    h('div', { class: 'form-field rate-save' }, h('button', { class: 'btn btn-primary', type: 'submit', 'data-testid': 'rate-save' }, 'Save rate')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setProblem(null);
    const empty = Object.keys(inputs).filter((k) => !inputs[k].value.trim());
    if (empty.length) { setProblem('Give the day, the currency and the rate.', empty); return; }
    try {
      const r = await api.putRates([{ day: day.value, currency: cur.value.trim().toUpperCase(), rate: rate.value.trim() }]);
      if (r.rejected && r.rejected.length) { setProblem(`${r.rejected[0].field}: ${r.rejected[0].message}`, [r.rejected[0].field]); return; }
      toast('Rate saved');
      rate.value = '';
      load();
    } catch (e) {
      setProblem(e.message, e.field ? [e.field] : []);
    }
  });

  fileInput.addEventListener('change', async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    showImport(h('p', { class: 'muted' }, 'Importing…'));
    try {
      const r = await api.importRates(file);
      showImport(h('p', { class: 'import-summary', 'data-testid': 'rates-summary' }, `${r.stored} rate(s) stored, ${r.rejected_total} rejected`),
        rejectedTable(r.rejected || [], 'rates-rejected', 'Rejected rate rows'));
      load();
    } catch (e) {
      showImport(h('p', { class: 'form-error' }, e.message));
    } finally {
      fileInput.value = '';
    }
  });

  load();
  return h('section', { class: 'card settings-card', 'aria-labelledby': 'rates-title', 'data-testid': 'rates-card' },
    h('div', { class: 'card-head' }, h('h2', { id: 'rates-title' }, 'Exchange rates'), reporting),
    h('div', { class: 'settings-body' },
      listHost,
      h('h3', { class: 'import-step' }, 'Add or change a rate'),
      form, problem,
      h('div', { class: 'form-field' },
        h('label', { class: 'field-label', for: 'rates-file' }, 'Import rates (CSV: day,currency,rate)'),
        fileInput),
      importReport));
}
