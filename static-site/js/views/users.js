// Users (admin): every account with its role, invite someone (the one-time link is shown once, to copy: no mail
// is sent), change a role, disable or enable an account. The API refuses what an admin may not do (the last
// active admin cannot be demoted or disabled); its message is shown as is. "Reset two-factor" turns a user's
// two-factor sign-in off (a lost phone): they sign in with the password alone and may set it up again.
import { h, icon } from '../dom.js';
import { api } from '../api.js';
import { dateTime } from '../format.js';
import { loading, empty, errorState, setContent, toast, confirmDialog } from '../ui.js';
import { getWho } from '../session.js';

const ROLES = [
  { value: 'viewer', label: 'Viewer', help: 'Dashboards and leads, no export' },
  { value: 'member', label: 'Member', help: 'Also moves, edits, orders, import and export' },
  { value: 'admin', label: 'Admin', help: 'Also users, webhooks, settings and deletes' },
];

function roleSelect(value, attrs, size = 'select select-sm') {
  return h('select', { class: size, ...attrs },
    ROLES.map((r) => h('option', { value: r.value, selected: r.value === value }, r.label)));
}

export function renderUsers(root, ctx) {
  ctx.setTitle('Users', 'Who can sign in, and what each role may do');
  const linkHost = h('div', { 'data-testid': 'invite-link-host' });
  const listHost = h('div', { 'data-testid': 'user-list' });
  const email = h('input', { class: 'input', type: 'email', id: 'invite-email', name: 'invite-email', required: true, placeholder: 'name@example.com', autocomplete: 'off' });
  const role = roleSelect('viewer', { id: 'invite-role', name: 'invite-role' }, 'select');
  const error = h('div', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', 'data-action': 'invite' }, 'Create invite link');
  const form = h('form', { class: 'invite-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const res = await api.invite(email.value.trim(), role.value);
      showLink(res);
      email.value = '';
      load();
    } catch (err) {
      if (err.status === 401) return;
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  } },
  h('div', { class: 'invite-fields' },
    h('div', { class: 'field invite-email' }, h('label', { class: 'field-label', for: 'invite-email' }, 'Email'), email),
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'invite-role' }, 'Role'), role),
    h('div', { class: 'field invite-submit' }, submit)),
  h('ul', { class: 'role-help muted small' }, ROLES.map((r) => h('li', {}, h('strong', {}, r.label), ` — ${r.help}`))),
  error);

  root.append(
    linkHost,
    h('section', { class: 'card settings-card', 'aria-labelledby': 'invite-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'invite-title' }, 'Invite someone'),
        h('p', { class: 'card-sub' }, 'Creates a one-time link, valid for 72 hours. No email is sent: copy the link and send it yourself.')),
      h('div', { class: 'settings-body' }, form)),
    h('section', { class: 'card settings-card', 'aria-labelledby': 'users-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'users-title' }, 'Accounts')),
      h('div', { class: 'settings-body' }, listHost)));

  function showLink(res) {
    const url = new URL(res.invite_url, location.origin).href;
    const box = h('input', { class: 'input invite-url', type: 'text', readonly: true, value: url, 'aria-label': 'Invite link', 'data-testid': 'invite-url' });
    const copy = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'copy-invite', onclick: async () => {
      box.select();
      try { await navigator.clipboard.writeText(url); toast('Link copied', 'success'); } catch { toast('Select the link and copy it', 'info'); }
    } }, 'Copy');
    setContent(linkHost, h('div', { class: 'card secret-card settings-card', role: 'status' },
      h('div', { class: 'card-head' }, h('h2', {}, `Invite link for ${res.email} (${res.role})`),
        h('p', { class: 'card-sub' }, `Shown only now. Works once, until ${dateTime(res.expires_at)}.`)),
      h('div', { class: 'settings-body invite-link-row' }, box, copy)));
  }

  async function change(u, body, done) {
    try {
      await api.changeUser(u.id, body);
      toast(done, 'success');
    } catch (err) {
      if (err.status !== 401) toast(err.message, 'error');
    }
    load();
  }

  async function resetTwoFactor(u) {
    const ok = await confirmDialog({
      title: `Reset two-factor for ${u.email}?`,
      body: 'Their two-factor sign-in is turned off: they sign in with their password alone until they set it up again.',
      confirmLabel: 'Reset two-factor',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.resetTwoFactor(u.id);
      toast(`Two-factor reset for ${u.email}`, 'success');
    } catch (err) {
      if (err.status !== 401) toast(err.message, 'error');
    }
    load();
  }

  async function load() {
    ctx.busy();
    setContent(listHost, loading('Loading users…'));
    let res;
    try {
      res = await api.users();
    } catch (e) {
      if (e.status === 401 || !ctx.isCurrent()) return;
      setContent(listHost, errorState(e, load));
      ctx.ready();
      return;
    }
    if (!ctx.isCurrent()) return;
    const me = getWho();
    const users = res.users || [];
    if (!users.length) {
      setContent(listHost, empty('No accounts yet', 'Invite someone above, or create an admin with leadpipe users create-admin.'));
      ctx.ready();
      return;
    }
    setContent(listHost, h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Accounts' },
      h('table', { class: 'table users-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Email'), h('th', {}, 'Role'), h('th', {}, 'Status'), h('th', {}, 'Created'), h('th', {}, h('span', { class: 'sr-only' }, 'Actions')))),
        h('tbody', {}, users.map((u) => {
          const sel = roleSelect(u.role, { 'aria-label': `Role of ${u.email}`, 'data-action': 'change-role' });
          sel.addEventListener('change', () => change(u, { role: sel.value }, `${u.email} is now ${sel.value}`));
          const toggle = h('button', { class: u.disabled ? 'btn btn-secondary btn-sm' : 'btn btn-danger-ghost btn-sm', type: 'button',
            'data-action': u.disabled ? 'enable-user' : 'disable-user', 'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.email}`,
            onclick: () => change(u, { disabled: !u.disabled }, `${u.email} ${u.disabled ? 'enabled' : 'disabled'}`) },
          u.disabled ? 'Enable' : 'Disable');
          const reset = u.two_factor ? h('button', { class: 'btn btn-secondary btn-sm', type: 'button', 'data-action': 'reset-two-factor',
            'aria-label': `Reset two-factor for ${u.email}`, onclick: () => resetTwoFactor(u) }, 'Reset two-factor') : null;
          return h('tr', { 'data-user': u.email },
            h('td', { class: 'cell-text' }, u.email, me && me.email === u.email ? h('span', { class: 'muted small' }, ' (you)') : null),
            h('td', {}, sel),
            h('td', { class: 'cell-status' }, h('span', { class: u.disabled ? 'badge badge-danger' : 'badge badge-ok' }, u.disabled ? 'Disabled' : 'Active'),
              u.two_factor ? h('span', { class: 'badge', title: 'Two-factor sign-in is on' }, '2FA') : null),
            h('td', { class: 'muted small' }, dateTime(u.created_at)),
            h('td', { class: 'cell-actions' }, reset, toggle));
        })))));
    ctx.ready();
  }
  load();
}
