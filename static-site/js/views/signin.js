// Sign-in screen: asks for the admin key and verifies it against /api/analytics.
import { h, icon } from '../dom.js';
import { api, setKey } from '../api.js';
import { logo } from '../brand.js';

export function renderSignin(root, { message, onSuccess }) {
  const input = h('input', {
    class: 'input input-lg', type: 'password', id: 'admin-key', name: 'admin-key', autocomplete: 'current-password',
    required: true, spellcheck: 'false', placeholder: 'Paste your admin key', 'aria-describedby': 'signin-help',
  });
  const toggle = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'aria-pressed': 'false', onclick: () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    toggle.textContent = show ? 'Hide' : 'Show';
    toggle.setAttribute('aria-pressed', String(show));
  } }, 'Show');
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const notice = message ? h('div', { class: 'notice', role: 'status' }, message) : null;
  const submit = h('button', { class: 'btn btn-primary btn-lg btn-block', type: 'submit' }, 'Sign in');

  const form = h('form', { class: 'signin-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    error.hidden = true;
    if (!key) { showError('Enter the admin key to continue.'); return; }
    submit.disabled = true;
    submit.textContent = 'Checking…';
    try {
      await api.analytics({ key, noAuthRedirect: true });
      setKey(key);
      onSuccess();
    } catch (err) {
      if (err.status === 401 || err.status === 403) showError('That key was not accepted. Check it and try again.');
      else showError(err.message);
      input.select();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  } },
  h('label', { class: 'field-label', for: 'admin-key' }, 'Admin API key'),
  h('div', { class: 'input-row' }, input, toggle),
  h('p', { class: 'help', id: 'signin-help' }, 'The value of ADMIN_API_KEY on your Leadpipe server. It is kept only for this browser tab.'),
  error, submit);

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }

  root.append(h('main', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'signin-brand' }, logo(), h('span', { class: 'brand-name' }, 'Leadpipe')),
      h('h1', { class: 'signin-title' }, 'Sign in to your dashboard'),
      h('p', { class: 'muted' }, 'Track every lead from first click to paid.'),
      notice, form),
    h('p', { class: 'signin-foot muted' }, icon('key'), 'Your key is sent only to this deployment\'s API.')));
  input.focus();
}
