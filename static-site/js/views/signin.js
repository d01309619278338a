// Sign-in screen: email and password (a session cookie), or — for automation and first start-up — the admin key.
// An account with two-factor on answers 401 totp_required: the form then asks for the app's code (or a recovery code).
import { h, icon } from '../dom.js';
import { api, setKey } from '../api.js';
import { logo } from '../brand.js';

function field(id, label, attrs) {
  const input = h('input', { class: 'input input-lg', id, name: id, required: true, ...attrs });
  return { input, el: h('div', { class: 'field' }, h('label', { class: 'field-label', for: id }, label), input) };
}

export function renderSignin(root, { message, onSuccess }) {
  const email = field('signin-email', 'Email', { type: 'email', autocomplete: 'username', spellcheck: 'false', placeholder: 'you@example.com' });
  const password = field('signin-password', 'Password', { type: 'password', autocomplete: 'current-password' });
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  // The second step, shown once the API says the account has two-factor on.
  let useRecovery = false;
  const totp = field('signin-totp', 'Code from your authenticator app', {
    type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', spellcheck: 'false', placeholder: '123456', required: false,
  });
  const totpLabel = totp.el.querySelector('label');
  const switchCode = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-action': 'use-recovery-code', onclick: () => {
    useRecovery = !useRecovery;
    totpLabel.textContent = useRecovery ? 'Recovery code' : 'Code from your authenticator app';
    totp.input.placeholder = useRecovery ? 'xxxx-xxxx-xxxx-xxxx' : '123456';
    totp.input.inputMode = useRecovery ? 'text' : 'numeric';
    switchCode.textContent = useRecovery ? 'Use a code from the app instead' : 'Use a recovery code instead';
    totp.input.value = '';
    totp.input.focus();
  } }, 'Use a recovery code instead');
  const second = h('div', { class: 'signin-second', hidden: true, 'data-testid': 'signin-second' }, totp.el, switchCode);
  const notice = message ? h('div', { class: 'notice', role: 'status' }, message) : null;
  const submit = h('button', { class: 'btn btn-primary btn-lg btn-block', type: 'submit', 'data-action': 'sign-in' }, 'Sign in');

  function showError(el, text, input) {
    el.textContent = text;
    el.hidden = false;
    if (input) input.setAttribute('aria-invalid', 'true');
  }

  const form = h('form', { class: 'login-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    const addr = email.input.value.trim();
    if (!addr || !password.input.value) { showError(error, 'Enter your email and password.', addr ? password.input : email.input); return; }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const code = second.hidden ? '' : totp.input.value.trim();
      await api.login(addr, password.input.value, code ? { [useRecovery ? 'recovery_code' : 'totp']: code } : {});
      setKey('');
      onSuccess();
    } catch (err) {
      if (err.code === 'totp_required' || err.code === 'totp_invalid' || err.code === 'totp_reused') {
        const first = second.hidden;
        second.hidden = false;
        if (err.code === 'totp_required') showError(error, first ? 'Two-factor is on for this account: enter the code from your authenticator app.' : 'Enter the code from your authenticator app.', totp.input);
        else if (err.code === 'totp_reused') showError(error, 'That code was used already. Wait for the next one and enter it.', totp.input);
        else showError(error, useRecovery ? 'That recovery code is not valid or was used already.' : 'That code is not right. Enter the current code from your app.', totp.input);
        totp.input.select();
        totp.input.focus();
        return;
      }
      if (err.status === 401) showError(error, 'That email and password do not match an active account.', password.input);
      else if (err.status === 429) showError(error, `${err.message}.`, null);
      else showError(error, err.message, null);
      password.input.select();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  } }, email.el, password.el, second, error, submit);

  // The admin key, for automation and the first start-up.
  const keyInput = h('input', {
    class: 'input', type: 'password', id: 'admin-key', name: 'admin-key', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'Paste your admin key', 'aria-describedby': 'signin-help',
  });
  const keyError = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const keySubmit = h('button', { class: 'btn btn-secondary btn-block', type: 'submit', 'data-action': 'sign-in-key' }, 'Use the key');
  const keyForm = h('form', { class: 'signin-form signin-key', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const key = keyInput.value.trim();
    keyError.hidden = true;
    if (!key) { showError(keyError, 'Enter the admin key to continue.', keyInput); return; }
    keySubmit.disabled = true;
    try {
      await api.me({ key, noAuthRedirect: true });
      setKey(key);
      onSuccess();
    } catch (err) {
      if (err.status === 401 || err.status === 403) showError(keyError, 'That key was not accepted. Check it and try again.', keyInput);
      else showError(keyError, err.message, null);
      keyInput.select();
    } finally {
      keySubmit.disabled = false;
    }
  } },
  h('label', { class: 'field-label', for: 'admin-key' }, 'Admin API key'),
  keyInput,
  h('p', { class: 'help', id: 'signin-help' }, 'The value of ADMIN_API_KEY on your Leadpipe server. It is kept only for this browser tab.'),
  keyError, keySubmit);
  const keyBox = h('div', { class: 'signin-alt' }, h('p', { class: 'signin-or muted small' }, 'Or, for automation and first start-up'), keyForm);

  root.append(h('main', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'signin-brand' }, logo(), h('span', { class: 'brand-name' }, 'Leadpipe')),
      h('h1', { class: 'signin-title' }, 'Sign in to your dashboard'),
      h('p', { class: 'muted' }, 'Track every lead from first click to paid.'),
      notice, form, keyBox),
    h('p', { class: 'signin-foot muted' }, icon('key'), 'Your password and key are sent only to this deployment\'s API.')));
  email.input.focus();
}

/** The accept-invite screen (#/accept-invite?token=…): choose a password, then sign in. */
export function renderAcceptInvite(root, { token, onDone }) {
  const pw = field('invite-password', 'Choose a password', { type: 'password', autocomplete: 'new-password', minlength: '12', 'aria-describedby': 'invite-help' });
  const again = field('invite-password-again', 'Repeat the password', { type: 'password', autocomplete: 'new-password' });
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn btn-primary btn-lg btn-block', type: 'submit', 'data-action': 'accept-invite' }, 'Create my account');
  const form = h('form', { class: 'signin-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    const show = (t) => { error.textContent = t; error.hidden = false; };
    if (pw.input.value.length < 12) { show('Use at least 12 characters.'); pw.input.focus(); return; }
    if (pw.input.value !== again.input.value) { show('The two passwords differ.'); again.input.focus(); return; }
    submit.disabled = true;
    try {
      const user = await api.acceptInvite(token || '', pw.input.value);
      onDone(`Your ${user.role} account ${user.email} is ready. Sign in with your new password.`);
    } catch (err) {
      show(err.message);
    } finally {
      submit.disabled = false;
    }
  } }, pw.el, h('p', { class: 'help', id: 'invite-help' }, '12 to 256 characters. A passphrase of a few words works well.'), again.el, error, submit);
  root.append(h('main', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'signin-brand' }, logo(), h('span', { class: 'brand-name' }, 'Leadpipe')),
      h('h1', { class: 'signin-title' }, 'Accept your invitation'),
      h('p', { class: 'muted' }, 'This link works once.'),
      form)));
  pw.input.focus();
}
