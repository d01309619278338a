// Leadpipe dashboard: boot, auth gate, shell and hash router.
import { h, icon, clear } from './dom.js';
import { api, getKey, setKey, onUnauthorized, apiBase } from './api.js';
import { logo } from './brand.js';
import { errorState, loading, closeAllLayers, empty } from './ui.js';
import { renderOverview } from './views/overview.js';
import { renderCampaigns } from './views/campaigns.js';
import { renderAbandonment } from './views/abandonment.js';
import { renderBoard } from './views/board.js';
import { renderLeads } from './views/leads.js';
import { renderDocs } from './views/docs.js';
import { renderImport } from './views/import.js';
import { renderPostbacks } from './views/postbacks.js';
import { renderSignin, renderAcceptInvite } from './views/signin.js';
import { renderUsers } from './views/users.js';
import { setWho, getWho } from './session.js';
import { renderAudit } from './views/audit.js';
import { renderSettings } from './views/settings.js';
import { renderAccount } from './views/account.js';
import { startLive, stopLive } from './live.js';

const app = document.getElementById('app');
const NAV = [
  { route: 'overview', label: 'Overview', icon: 'overview' },
  { route: 'campaigns', label: 'Campaigns', icon: 'campaigns' },
  { route: 'abandonment', label: 'Form Abandonment', icon: 'abandon' },
  { route: 'board', label: 'Pipeline Board', icon: 'board' },
  { route: 'leads', label: 'All Leads', icon: 'leads' },
  { route: 'import', label: 'Import', icon: 'upload', needs: 'member' },
  { route: 'postbacks', label: 'Postback Log', icon: 'inbox', needs: 'member' },
  { route: 'users', label: 'Users', icon: 'shield', needs: 'admin' },
  { route: 'audit', label: 'Audit Log', icon: 'clock', needs: 'admin' },
  { route: 'settings', label: 'Settings', icon: 'settings', needs: 'admin' },
  { route: 'account', label: 'My Account', icon: 'key', users: true },
  { route: 'docs', label: 'API Documentation', icon: 'docs' },
];

let mode = null; // 'open' (server has no admin key) | 'key' | 'user' (a session cookie)
let shell = null;
let current = null; // the screen on show: {name, controller, onLive}
// Screens that report on a date range: the nav carries the range chosen on one of them to the others.
const RANGE_SCREENS = new Set(['overview', 'campaigns', 'abandonment']);

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, qs = ''] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { parts, query: new URLSearchParams(qs) };
}

// ---------- boot ----------
async function boot() {
  clear(app);
  app.append(h('div', { class: 'boot' }, loading('Opening Leadpipe…')));
  const { parts, query } = parseHash();
  if (parts[0] === 'accept-invite') { showAcceptInvite(query.get('token')); return; }
  const key = getKey();
  try {
    const me = await api.me({ key, noAuthRedirect: true });
    setWho(me);
    mode = me.kind === 'open' ? 'open' : me.kind;
    showShell();
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      if (key) setKey('');
      showSignin(key ? 'Your saved key is no longer accepted. Please sign in again.' : null);
    } else {
      clear(app);
      app.append(h('main', { class: 'boot' }, h('div', { class: 'boot-card' },
        h('div', { class: 'signin-brand' }, logo(), h('span', { class: 'brand-name' }, 'Leadpipe')),
        errorState(new Error(`${e.message} (API: ${apiBase()})`), boot))));
    }
  }
}

onUnauthorized(() => {
  if (!shell) return;
  if (mode === 'user') { showSignin('Your session has ended. Please sign in again.'); return; }
  setKey('');
  showSignin('Your session has expired or the admin key was changed. Please sign in again.');
});

function showAcceptInvite(token) {
  shell = null;
  current = null;
  setWho(null);
  stopLive();
  clear(app);
  document.title = 'Accept invitation · Leadpipe';
  renderAcceptInvite(app, { token, onDone: (message) => { history.replaceState(null, '', '#/overview'); showSignin(message); } });
}

function showSignin(message) {
  setWho(null);
  shell = null;
  current = null;
  mode = null;
  stopLive();
  closeAllLayers();
  clear(app);
  document.title = 'Sign in · Leadpipe';
  renderSignin(app, { message, onSuccess: () => boot() });
}

// ---------- shell ----------
function showShell() {
  closeAllLayers();
  clear(app);
  // "My Account" (two-factor) is for personal sign-in only: keys and open access have no account.
  const navLinks = NAV.filter((n) => !n.users || mode === 'user').map((n) => h('a', { class: 'nav-link', href: `#/${n.route}`, 'data-route': n.route, 'data-needs': n.needs }, icon(n.icon), h('span', {}, n.label)));
  const status = h('div', { class: 'side-status', role: 'status', 'data-state': 'checking' },
    h('span', { class: 'status-dot', 'aria-hidden': 'true' }), h('span', { class: 'status-text' }, 'Checking connection…'));
  const who = getWho();
  const signOut = mode === 'key' || mode === 'user'
    ? h('button', { class: 'nav-link nav-button', type: 'button', 'data-action': 'sign-out', onclick: async () => {
      setKey('');
      if (mode === 'user') { try { await api.logout(); } catch { /* the cookie is cleared or gone */ } }
      showSignin('You have signed out.');
    } }, icon('logout'), h('span', {}, 'Sign out'))
    : null;
  const whoLabel = who && who.kind === 'user' ? who.email : who && who.kind === 'key' ? `Key: ${who.name}` : 'No sign-in (keys off)';
  const identity = who ? h('div', { class: 'side-who', 'data-testid': 'who' },
    h('span', { class: 'who-name', title: whoLabel }, whoLabel),
    h('span', { class: `badge role-badge role-${who.role}`, 'data-testid': 'role' }, who.role)) : null;
  const sidebar = h('aside', { class: 'sidebar', id: 'sidebar' },
    h('a', { class: 'brand', href: '#/overview' }, logo(), h('span', { class: 'brand-name' }, 'Leadpipe')),
    h('nav', { class: 'nav', 'aria-label': 'Main' }, navLinks),
    h('div', { class: 'side-foot' }, identity, status, signOut));
  const menuBtn = h('button', { class: 'icon-btn menu-btn', type: 'button', 'aria-label': 'Open menu', 'aria-controls': 'sidebar', 'aria-expanded': 'false',
    onclick: () => setMenu(!document.body.classList.contains('menu-open')) }, icon('menu'));
  const title = h('h1', { class: 'page-title' });
  const subtitle = h('p', { class: 'page-sub' });
  const actions = h('div', { class: 'page-actions' });
  const content = h('main', { class: 'content', id: 'content', tabindex: '-1' });
  const scrim = h('div', { class: 'scrim', onclick: () => setMenu(false) });
  const mobileBar = h('nav', { class: 'mobilebar', 'aria-label': 'Menu bar' }, menuBtn, h('a', { class: 'brand brand-mobile', href: '#/overview' }, logo(24), h('span', { class: 'brand-name' }, 'Leadpipe')));
  const main = h('div', { class: 'main' },
    mobileBar,
    h('header', { class: 'topbar' }, h('div', { class: 'titles' }, title, subtitle), actions),
    content);
  app.append(h('div', { class: 'layout' }, sidebar, scrim, main));
  shell = { title, subtitle, actions, content, navLinks, menuBtn, status };

  function setMenu(open) {
    document.body.classList.toggle('menu-open', open);
    menuBtn.setAttribute('aria-expanded', String(open));
    menuBtn.setAttribute('aria-label', open ? 'Close menu' : 'Open menu');
  }
  shell.setMenu = setMenu;

  let version = '';
  api.health().then((hlt) => { version = hlt && hlt.version ? String(hlt.version) : ''; if (status.dataset.state === 'connected') setStatus('connected'); })
    .catch(() => { /* the poller reports the state */ });
  function setStatus(state) {
    status.dataset.state = state;
    status.classList.toggle('is-down', state === 'offline' || state === 'error');
    const text = { connected: version ? `Connected · v${version}` : 'Connected', offline: 'Offline — retrying', error: 'API error — retrying', checking: 'Checking connection…' }[state];
    const el = status.querySelector('.status-text');
    if (el.textContent !== text) el.textContent = text;
  }
  startLive({
    onStatus: setStatus,
    onChange: (a, prev) => { if (current && current.onLive) current.onLive(a, prev); },
  });
  route();
}

function route() {
  if (!shell) return;
  shell.setMenu(false);
  const { parts, query } = parseHash();
  const name = parts[0] || 'overview';
  // Same screen, new detail (e.g. #/leads/A -> #/leads/B): let the screen handle it without a re-render.
  if (current && current.name === name && current.controller && current.controller.update
      && current.controller.update({ parts, query })) return;
  closeAllLayers();
  const { title, subtitle, actions, content } = shell;
  clear(content); clear(actions);
  const me = { name, controller: null, onLive: null };
  current = me;
  // The screen's content state: aria-busy="true" until the view says its data has rendered.
  content.setAttribute('aria-busy', 'true');
  delete content.dataset.ready;
  const ctx = {
    setTitle: (t, sub) => {
      title.textContent = t; subtitle.textContent = sub || '';
      document.title = `${t} · Leadpipe`;
    },
    setActions: (...nodes) => { clear(actions); actions.append(...nodes.filter(Boolean)); },
    busy: () => { if (current === me) { content.setAttribute('aria-busy', 'true'); delete content.dataset.ready; } },
    ready: () => { if (current === me) { content.setAttribute('aria-busy', 'false'); content.dataset.ready = 'true'; } },
    onLive: (fn) => { me.onLive = fn; },
    /** The range query (e.g. "range=7d") the other report screens' nav links should open with. */
    shareRange: (qs) => {
      if (current !== me) return;
      for (const a of shell.navLinks) {
        if (RANGE_SCREENS.has(a.dataset.route)) a.setAttribute('href', `#/${a.dataset.route}${qs ? `?${qs}` : ''}`);
      }
    },
    isCurrent: () => current === me,
    /** The session ended on purpose (e.g. "sign out everywhere"): the sign-in screen with `message`. */
    signedOut: (message) => { setKey(''); showSignin(message); },
  };
  for (const a of shell.navLinks) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  content.dataset.screen = name;
  try {
    if (name === 'overview') renderOverview(content, ctx, { query });
    else if (name === 'campaigns') renderCampaigns(content, ctx, { query });
    else if (name === 'abandonment') renderAbandonment(content, ctx, { query });
    else if (name === 'board') renderBoard(content, ctx, { query });
    else if (name === 'leads') me.controller = renderLeads(content, ctx, { query, leadId: parts[1] || null });
    else if (name === 'postbacks') renderPostbacks(content, ctx, { query });
    else if (name === 'audit') renderAudit(content, ctx, { query });
    else if (name === 'docs') renderDocs(content, ctx);
    else if (name === 'import') renderImport(content, ctx);
    else if (name === 'settings') renderSettings(content, ctx);
    else if (name === 'users') renderUsers(content, ctx);
    else if (name === 'account') renderAccount(content, ctx);
    else {
      ctx.setTitle('Page not found');
      content.append(empty('This page does not exist', 'Pick a screen from the menu.', h('a', { class: 'btn btn-primary', href: '#/overview' }, 'Go to Overview')));
      ctx.ready();
    }
  } catch (e) {
    content.append(errorState(e, route));
    ctx.ready();
  }
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', () => {
  if (parseHash().parts[0] === 'accept-invite') boot(); else route();
});

// Keyboard: "/" focuses the screen's search box (not while typing somewhere).
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  const t = e.target;
  if (t && t.closest && t.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]')) return;
  if (document.querySelector('.overlay')) return;
  const box = document.querySelector('#content [data-shortcut="search"]');
  if (!box) return;
  e.preventDefault();
  box.focus();
  if (box.select) box.select();
});
boot();
