// What a screen reader is given and what the eye sees of an element, and moving focus by keys only.

/**
 * The text an assistive technology is given for the element: its text with aria-hidden and undisplayed subtrees left
 * out and an aria-label standing for its element's content (a simplified accessible-name walk), spaces collapsed.
 */
export function spokenText(locator) {
  return locator.evaluate((root) => {
    const walk = (n) => {
      if (n.nodeType === Node.TEXT_NODE) return n.textContent;
      if (n.nodeType !== Node.ELEMENT_NODE || n.getAttribute('aria-hidden') === 'true') return '';
      const cs = getComputedStyle(n);
      if (cs.display === 'none' || cs.visibility === 'hidden') return '';
      if (n.hasAttribute('aria-label')) return ` ${n.getAttribute('aria-label')} `;
      return [...n.childNodes].map(walk).join('');
    };
    return walk(root).replace(/\s+/g, ' ').trim();
  });
}

/** The text the eye sees: innerText without the visually hidden (.sr-only) parts, spaces collapsed. */
export function shownText(locator) {
  return locator.evaluate((root) => {
    const copy = root.cloneNode(true);
    for (const el of copy.querySelectorAll('.sr-only')) el.remove();
    return copy.textContent.replace(/\s+/g, ' ').trim();
  });
}

/**
 * Press `key` (Tab by default) until the focused element matches `selector`, at most `max` times; returns how many
 * presses it took, or throws naming where focus ended.
 */
export async function pressUntilFocused(page, selector, { key = 'Tab', max = 80 } = {}) {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press(key);
    if (await page.evaluate((s) => Boolean(document.activeElement && document.activeElement.matches(s)), selector)) return i;
  }
  const at = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 120));
  throw new Error(`${key} ×${max} never focused ${selector}; focus is on ${at}`);
}

/**
 * Text a screen reader would be given that writes an amount with only a currency symbol ("$49.99", "¥1,500") or a bare
 * "—" standing for a value, inside `within` (a selector) and outside `exclude`: each as "<selector of its parent>: text".
 */
export function unspokenMoney(page, within, { exclude = null } = {}) {
  return page.evaluate(({ within, exclude }) => {
    const out = [];
    const SYMBOL = /[$€¥£₹₩]\s?\d|\d\s?[$€¥£₹₩]/;
    const visit = (n) => {
      if (n.nodeType === Node.TEXT_NODE) {
        const t = n.textContent.trim();
        if (SYMBOL.test(t) || t === '—') {
          const p = n.parentElement;
          out.push(`${p.tagName.toLowerCase()}${p.className ? `.${String(p.className).trim().split(/\s+/).join('.')}` : ''}: ${t}`);
        }
        return;
      }
      if (n.nodeType !== Node.ELEMENT_NODE || n.getAttribute('aria-hidden') === 'true' || n.hasAttribute('aria-label')) return;
      if (exclude && n.matches(exclude)) return;
      const cs = getComputedStyle(n);
      if (cs.display === 'none' || cs.visibility === 'hidden') return;
      for (const c of n.childNodes) visit(c);
    };
    for (const root of document.querySelectorAll(within)) visit(root);
    return out;
  }, { within, exclude });
}
