// Live updates and the connection status: polls GET /api/analytics while the tab is visible.
// A change of `changes` (every write moves it) calls the open screen's handler; the status badge
// says "Connected" only while the last poll succeeded.
import { api } from './api.js';

export const POLL_MS = 5000;

/**
 * What must change for the open screen to refresh: `changes` (grows with every write) when the API reports it,
 * else the total and the count in every stage.
 */
export function signature(a) {
  if (a && typeof a.changes === 'number') return JSON.stringify([a.changes, a.total_leads]);
  const funnel = Array.isArray(a && a.funnel) ? a.funnel : [];
  return JSON.stringify([a ? a.total_leads : null, funnel.map((f) => [f.stage, f.count, f.reached])]);
}

let poller = null;

/**
 * startLive({onStatus(state, detail), onChange(analytics, previous)}) -> stop()
 * state: 'checking' | 'connected' | 'offline' | 'error'
 */
export function startLive({ onStatus, onChange }) {
  stopLive();
  let timer = null;
  let stopped = false;
  let inflight = null;
  let last = null; // last analytics seen
  let absorb = false; // adopt the next change silently (it was made from this tab)

  const visible = () => document.visibilityState !== 'hidden';

  async function tick() {
    clearTimeout(timer);
    timer = null;
    if (stopped || !visible()) return;
    if (inflight) return;
    inflight = (async () => {
      try {
        const a = await api.analytics();
        if (stopped) return;
        onStatus('connected');
        const prev = last;
        last = a;
        if (prev && signature(prev) !== signature(a)) {
          if (absorb) absorb = false;
          else onChange(a, prev);
        } else if (absorb) absorb = false;
      } catch (e) {
        if (stopped || e.status === 401) return; // 401 goes back to sign-in (api.onUnauthorized)
        onStatus(e.status === 0 ? 'offline' : 'error', e);
      }
    })();
    await inflight;
    inflight = null;
    schedule();
  }

  function schedule() {
    if (stopped || timer || !visible()) return;
    timer = setTimeout(tick, POLL_MS);
  }

  function onVisibility() {
    if (visible()) tick(); // catch up at once when the tab comes back
    else { clearTimeout(timer); timer = null; }
  }
  document.addEventListener('visibilitychange', onVisibility);

  poller = {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
    /** Called after a change made from this tab: refresh the baseline without notifying the screen. */
    async local() {
      if (stopped) return;
      if (inflight) await inflight;
      absorb = true;
      await tick();
      absorb = false;
    },
    /** Latest analytics seen (or null). */
    latest: () => last,
    now: () => tick(),
  };
  onStatus('checking');
  tick();
  return poller.stop;
}

export function stopLive() {
  if (poller) poller.stop();
  poller = null;
}

/** A change was made from this tab (move, delete): do not announce it as news. */
export function noteLocalChange() {
  if (poller) poller.local();
}

export function latestAnalytics() {
  return poller ? poller.latest() : null;
}
