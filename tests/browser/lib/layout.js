// Layout checks from element boxes (getBoundingClientRect, scrollWidth/clientWidth), not from pixels: which of the
// given elements overlap one another, which cut their own text, and which stand outside the viewport or outside the
// visible part of their scroll container.

/**
 * The layout defects among the elements matching `selector` (visible ones only), as readable strings (empty = none).
 *   overlap: two boxes intersect by more than 1 px in both directions (nested elements are not compared);
 *   clipped: an element's content is wider than its box (scrollWidth > clientWidth) — a select or input whose text is
 *            cut shows this, as does a cell with text-overflow: ellipsis;
 *   offscreen: the box's right edge is past the viewport (or the left edge before it).
 * `noClip` lists selectors whose own overflow is intended (a scroll container), checked for overlap only.
 */
export async function layoutDefects(page, selector, { noClip = [], offscreen = true } = {}) {
  return page.evaluate(({ selector, noClip, offscreen }) => {
    const els = [...document.querySelectorAll(selector)].filter((e) => {
      const r = e.getBoundingClientRect();
      const cs = getComputedStyle(e);
      return r.width > 0 && r.height > 0 && cs.visibility !== 'hidden';
    });
    const name = (e) => {
      const text = (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.trim().split(/\s+/).join('.')}` : ''} "${text}"`;
    };
    const out = [];
    const boxes = els.map((e) => e.getBoundingClientRect());
    for (let i = 0; i < els.length; i++) {
      for (let j = i + 1; j < els.length; j++) {
        if (els[i].contains(els[j]) || els[j].contains(els[i])) continue;
        const a = boxes[i]; const b = boxes[j];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const hgt = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && hgt > 1) out.push(`overlap: ${name(els[i])} and ${name(els[j])} (${Math.round(w)}×${Math.round(hgt)} px)`);
      }
    }
    for (let i = 0; i < els.length; i++) {
      const e = els[i];
      if (!noClip.some((s) => e.matches(s)) && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0) {
        out.push(`clipped: ${name(e)} (content ${e.scrollWidth} px in ${e.clientWidth} px)`);
      }
      if (offscreen) {
        const r = boxes[i];
        if (r.right > window.innerWidth + 0.5 || r.left < -0.5) out.push(`offscreen: ${name(e)} (${Math.round(r.left)}..${Math.round(r.right)} of ${window.innerWidth})`);
      }
    }
    return out;
  }, { selector, noClip, offscreen });
}
