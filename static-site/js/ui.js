// Shared UI components: state panels, chips, toasts, confirm dialog, drawer.
import { h, icon, clear } from './dom.js';
import { stageColor } from './format.js';

export function stageChip(stage, stages) {
  return h('span', { class: `chip chip-${stageColor(stage, stages)}` },
    h('span', { class: 'chip-dot', 'aria-hidden': 'true' }), stage ?? '—');
}

export function loading(label = 'Loading…') {
  return h('div', { class: 'state state-loading', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', {}, label));
}

export function skeleton(rows = 3) {
  return h('div', { class: 'skeleton-group', 'aria-hidden': 'true' },
    Array.from({ length: rows }, () => h('div', { class: 'skeleton' })));
}

export function empty(title, detail, action) {
  return h('div', { class: 'state state-empty' },
    h('div', { class: 'state-icon' }, icon('inbox')),
    h('div', { class: 'state-title' }, title),
    detail ? h('div', { class: 'state-detail' }, detail) : null,
    action || null);
}

export function errorState(err, retry, extra) {
  const msg = err && err.message ? err.message : String(err || 'Something went wrong.');
  return h('div', { class: 'state state-error', role: 'alert' },
    h('div', { class: 'state-icon' }, icon('alert')),
    h('div', { class: 'state-title' }, 'Something went wrong'),
    h('div', { class: 'state-detail' }, msg),
    h('div', { class: 'state-actions' },
      retry ? h('button', { class: 'btn btn-secondary', type: 'button', onclick: retry }, icon('refresh'), 'Try again') : null,
      extra || null));
}

// ---------- toasts ----------
const toastTimers = new WeakMap();
/** toast(message, kind, {key, ms}): a toast with the same key updates in place instead of stacking. */
export function toast(message, kind = 'info', { key, ms = 4000 } = {}) {
  let host = document.getElementById('toasts');
  if (!host) {
    host = h('div', { id: 'toasts', class: 'toasts' });
    document.body.append(host);
  }
  let t = key ? [...host.children].find((c) => c.dataset.key === key) : null;
  if (t) {
    t.className = `toast toast-${kind}`;
    t.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    setContent(t, message);
  } else {
    t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: key ? { key } : undefined }, message);
    host.append(t);
  }
  for (const id of toastTimers.get(t) || []) clearTimeout(id);
  toastTimers.set(t, [setTimeout(() => t.classList.add('toast-out'), ms - 400), setTimeout(() => t.remove(), ms)]);
  return t;
}

// ---------- modal dialogs ----------
let openLayers = 0;
const layerClosers = new Set();
function lockScroll(on) {
  openLayers = Math.max(0, openLayers + (on ? 1 : -1));
  document.body.classList.toggle('no-scroll', openLayers > 0);
}

/**
 * In-page confirmation (not window.confirm). Resolves true/false.
 * confirmDialog({title, body, confirmLabel, danger})
 */
export function confirmDialog({ title, body, confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const close = (result) => {
      if (!layerClosers.delete(cancel)) return;
      document.removeEventListener('keydown', onKey, true);
      overlay.remove();
      lockScroll(false);
      if (previous && previous.focus && previous.isConnected) previous.focus();
      resolve(result);
    };
    const onKey = (e) => {
      if (e.key === 'Escape') { e.stopPropagation(); close(false); }
      if (e.key === 'Tab') trapFocus(e, dialog);
    };
    const confirmBtn = h('button', {
      class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, type: 'button', 'data-action': 'confirm',
      onclick: () => close(true),
    }, confirmLabel);
    const cancelBtn = h('button', { class: 'btn btn-secondary', type: 'button', 'data-action': 'cancel', onclick: () => close(false) }, cancelLabel);
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const dialog = h('div', { class: 'dialog', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': titleId },
      h('h2', { class: 'dialog-title', id: titleId }, title),
      h('div', { class: 'dialog-body' }, body),
      h('div', { class: 'dialog-actions' }, cancelBtn, confirmBtn));
    const overlay = h('div', { class: 'overlay overlay-center', onclick: (e) => { if (e.target === overlay) close(false); } }, dialog);
    const cancel = () => close(false);
    layerClosers.add(cancel);
    document.body.append(overlay);
    lockScroll(true);
    document.addEventListener('keydown', onKey, true);
    (danger ? cancelBtn : confirmBtn).focus();
  });
}

function trapFocus(e, container) {
  const items = [...container.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')]
    .filter((el) => !el.disabled && el.offsetParent !== null);
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
  else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
}

/**
 * A right-hand drawer (modal dialog). Returns {panel, body, heading, close, isOpen}.
 * returnFocus: element (or function giving one) to focus on close when the opener is gone.
 */
export function drawer({ title, onClose, label = 'Details', returnFocus, opener } = {}) {
  const previous = opener || document.activeElement;
  const onKey = (e) => {
    if (e.key === 'Escape' && !document.querySelector('.overlay-center')) { e.preventDefault(); close(); }
    if (e.key === 'Tab' && !document.querySelector('.overlay-center')) trapFocus(e, panel);
  };
  let closed = false;
  /** close({restoreFocus: false}) when another drawer replaces this one. */
  const close = ({ restoreFocus = true } = {}) => {
    if (closed) return;
    closed = true;
    layerClosers.delete(close);
    document.removeEventListener('keydown', onKey);
    overlay.remove();
    lockScroll(false);
    if (restoreFocus) {
      let target = previous && previous.isConnected && previous !== document.body ? previous : null;
      if (!target && returnFocus) target = typeof returnFocus === 'function' ? returnFocus() : returnFocus;
      if (target && target.focus) target.focus();
    }
    if (onClose) onClose();
  };
  const titleId = `drawer-${Math.random().toString(36).slice(2)}`;
  const heading = h('div', { class: 'drawer-title' }, h('h2', { class: 'drawer-name' }, title || ''));
  const closeBtn = h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close', title: 'Close (Esc)', 'data-action': 'close-drawer', onclick: () => close() }, icon('close'));
  const body = h('div', { class: 'drawer-body', tabindex: '-1' });
  const panel = h('div', { class: 'drawer', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, 'aria-busy': 'true', 'data-label': label },
    h('div', { class: 'drawer-header' }, heading, closeBtn), body);
  /** Set the title (the dialog's accessible name): setTitle(text, ...extra nodes under it). */
  const setTitle = (text, ...extra) => {
    setContent(heading, h('h2', { class: 'drawer-name', id: titleId }, text), ...extra);
  };
  setTitle(title || label);
  const overlay = h('div', { class: 'overlay overlay-drawer', onclick: (e) => { if (e.target === overlay) close(); } }, panel);
  layerClosers.add(close);
  document.body.append(overlay);
  lockScroll(true);
  document.addEventListener('keydown', onKey);
  closeBtn.focus();
  return {
    panel, body, heading, close, setTitle, isOpen: () => !closed,
    ready: (on = true) => { panel.setAttribute('aria-busy', on ? 'false' : 'true'); if (on) panel.dataset.ready = 'true'; else delete panel.dataset.ready; },
  };
}

/** Close every open drawer/dialog (route change, sign-out, 401). Dialogs resolve as cancelled. */
export function closeAllLayers() {
  for (const close of [...layerClosers]) close();
  document.querySelectorAll('.overlay').forEach((o) => o.remove());
  openLayers = 0;
  document.body.classList.remove('no-scroll');
}

export function setContent(el, ...nodes) {
  clear(el);
  el.append(...nodes.flat().filter(Boolean));
  return el;
}
