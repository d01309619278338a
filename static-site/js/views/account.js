// My account (signed-in users): two-factor sign-in with an authenticator app (TOTP). Set it up (the secret and the
// otpauth:// URI are shown as text to copy: no QR code), confirm with a code, see the recovery codes once, turn it
// off with a code or the password. The API keeps every rule (a code works once; wrong codes are audited).
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { loading, errorState, setContent, toast, confirmDialog } from '../ui.js';

function copyRow(id, label, value) {
  const box = h('input', { class: 'input mono', id, type: 'text', readonly: true, value, spellcheck: 'false', 'data-testid': id });
  const copy = h('button', { class: 'btn btn-secondary', type: 'button', 'aria-label': `Copy the ${label.toLowerCase()}`, onclick: async () => {
    box.select();
    try { await navigator.clipboard.writeText(value); toast(`${label} copied`, 'success'); } catch { toast('Selected: press Ctrl+C (⌘C) to copy', 'info'); }
  } }, 'Copy');
  return h('div', { class: 'field' }, h('label', { class: 'field-label', for: id }, label), h('div', { class: 'secret-row' }, box, copy));
}

function codeInput(id, extra = {}) {
  return h('input', {
    class: 'input code-input', id, name: id, type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9 ]*', maxlength: '7', spellcheck: 'false', placeholder: '123456', ...extra,
  });
}

/** "Sign out everywhere": ends every session of this account (a lost laptop, a shared computer), this one too. */
function sessionsCard(ctx) {
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const button = h('button', { class: 'btn btn-danger-ghost', type: 'button', 'data-action': 'sign-out-everywhere', onclick: async () => {
    const ok = await confirmDialog({
      title: 'Sign out everywhere?',
      body: h('p', {}, 'Every browser signed in to your account is signed out within a minute, this one included. You can sign in again at once.'),
      confirmLabel: 'Sign out everywhere',
      danger: true,
    });
    if (!ok) return;
    button.disabled = true;
    error.hidden = true;
    try {
      await api.logoutAll();
      ctx.signedOut('You have signed out on every device.');
    } catch (e) {
      button.disabled = false;
      if (e.status === 401) return;
      error.textContent = `Could not sign out everywhere: ${e.message}`;
      error.hidden = false;
    }
  } }, 'Sign out everywhere');
  return h('section', { class: 'card settings-card', 'aria-labelledby': 'sessions-title', 'data-testid': 'sessions' },
    h('div', { class: 'card-head' }, h('h2', { id: 'sessions-title' }, 'Sessions'),
      h('p', { class: 'card-sub' }, 'Signed in somewhere you no longer use, or lost a device? End every session of your account.')),
    h('div', { class: 'settings-body' }, error, h('div', { class: 'secret-actions' }, button)));
}

export function renderAccount(root, ctx) {
  ctx.setTitle('My account', 'Two-factor sign-in and sessions of your account');
  const host = h('div', { class: 'settings-body', 'data-testid': 'two-factor' });
  const recoveryHost = h('div', { 'data-testid': 'recovery-host' });
  root.append(recoveryHost,
    h('section', { class: 'card settings-card', 'aria-labelledby': 'two-factor-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'two-factor-title' }, 'Two-factor sign-in'),
        h('p', { class: 'card-sub' }, 'With two-factor on, signing in also asks for a 6-digit code from an authenticator app (Google Authenticator, 1Password, Aegis…).')),
      host),
    sessionsCard(ctx));

  function formError() { return h('div', { class: 'form-error', role: 'alert', hidden: true }); }
  function fail(el, err, input) {
    if (err.status === 401) return; // the app shows the sign-in screen
    const text = String(err.message || 'Something went wrong');
    el.textContent = `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
    el.hidden = false;
    if (input) { input.setAttribute('aria-invalid', 'true'); input.select(); }
  }

  function showOff() {
    const error = formError();
    const start = h('button', { class: 'btn btn-primary', type: 'button', 'data-action': 'start-two-factor', onclick: async () => {
      start.disabled = true;
      error.hidden = true;
      try { showSetup(await api.twoFactorSetup()); } catch (e) { fail(error, e); start.disabled = false; }
    } }, 'Set up two-factor');
    setContent(host, h('div', {},
      h('p', { class: 'two-factor-state', 'data-testid': 'two-factor-state' }, h('span', { class: 'badge' }, 'Off'), ' Signing in asks for your password only.'),
      error, h('div', { class: 'secret-actions' }, start)));
    ctx.ready();
  }

  function showSetup(setup) {
    const code = codeInput('two-factor-code', { 'aria-describedby': 'two-factor-code-help' });
    const error = formError();
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', 'data-action': 'confirm-two-factor' }, 'Turn on');
    const form = h('form', { class: 'two-factor-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      if (!/^\d{6}$/.test(code.value.replace(/\s/g, ''))) { fail(error, new Error('Enter the 6-digit code your app shows.'), code); return; }
      submit.disabled = true;
      try {
        const res = await api.twoFactorConfirm(code.value);
        showRecovery(res.recovery_codes || []);
        showOn();
      } catch (err) {
        fail(error, err, code);
      } finally {
        submit.disabled = false;
      }
    } },
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'two-factor-code' }, 'Code from the app'), code),
    h('p', { class: 'help', id: 'two-factor-code-help' }, 'Two-factor turns on once a code is accepted.'),
    error, h('div', { class: 'secret-actions' }, submit));
    setContent(host, h('div', { class: 'two-factor-setup' },
      h('ol', { class: 'steps' },
        h('li', {}, 'In your authenticator app, add an account and enter this secret (or paste the setup link).'),
        h('li', {}, 'Type the 6-digit code the app shows, below.')),
      copyRow('two-factor-secret', 'Secret', setup.secret),
      copyRow('two-factor-uri', 'Setup link', setup.otpauth_uri),
      form));
    code.focus();
  }

  function showRecovery(codes) {
    const title = h('h2', { id: 'recovery-title', tabindex: '-1' }, 'Two-factor is on: save your recovery codes now');
    const done = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'dismiss-recovery', onclick: () => setContent(recoveryHost, null) }, 'I have saved them');
    setContent(recoveryHost, h('section', { class: 'card secret-card settings-card', 'aria-labelledby': 'recovery-title', 'data-testid': 'recovery-card' },
      h('div', { class: 'card-head' }, title),
      h('div', { class: 'settings-body' },
        h('p', { class: 'secret-warning', role: 'note' }, icon('alert'), h('strong', {}, "You won't see these codes again."),
          ' Each one signs you in once if you lose your phone. Keep them somewhere safe, away from your password.'),
        h('ul', { class: 'recovery-codes mono', 'data-testid': 'recovery-codes' }, codes.map((c) => h('li', {}, c))),
        h('div', { class: 'secret-actions' }, done))));
    title.focus();
  }

  function showOn() {
    const proof = h('input', { class: 'input', id: 'two-factor-proof', name: 'two-factor-proof', type: 'password', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'two-factor-proof-help' });
    const error = formError();
    const submit = h('button', { class: 'btn btn-danger-ghost', type: 'submit', 'data-action': 'disable-two-factor' }, 'Turn off two-factor');
    const form = h('form', { class: 'two-factor-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      const value = proof.value.trim();
      if (!value) { fail(error, new Error('Enter a current code or your password.'), proof); return; }
      submit.disabled = true;
      try {
        await api.twoFactorDisable(/^\d{3} ?\d{3}$/.test(value) ? { code: value } : { password: proof.value });
        toast('Two-factor is off', 'success');
        showOff();
      } catch (err) {
        fail(error, err, proof);
        submit.disabled = false;
      }
    } },
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'two-factor-proof' }, 'Current code or password'), proof),
    h('p', { class: 'help', id: 'two-factor-proof-help' }, 'To turn two-factor off, confirm it is you.'),
    error, h('div', { class: 'secret-actions' }, submit));
    setContent(host, h('div', {},
      h('p', { class: 'two-factor-state', 'data-testid': 'two-factor-state' }, h('span', { class: 'badge badge-ok' }, 'On'), ' Signing in asks for your password and a code from your app.'),
      form));
    ctx.ready();
  }

  async function load() {
    ctx.busy();
    setContent(host, loading('Loading…'));
    try {
      const me = await api.me();
      if (!ctx.isCurrent()) return;
      if (me.kind !== 'user') {
        setContent(host, h('p', { class: 'muted' }, 'Two-factor is for personal accounts: sign in with your email to set it up.'));
        ctx.ready();
      } else if (me.two_factor) showOn(); else showOff();
    } catch (e) {
      if (e.status === 401 || !ctx.isCurrent()) return;
      setContent(host, errorState(e, load));
      ctx.ready();
    }
  }
  load();
}
