import { s } from './dom.js';

/** The Leadpipe mark: a funnel-shaped pipe. Constant SVG, built with DOM APIs. */
export function logo(size = 28) {
  return s('svg', { class: 'logo', width: size, height: size, viewBox: '0 0 32 32', 'aria-hidden': 'true' },
    s('rect', { x: 0, y: 0, width: 32, height: 32, rx: 8, class: 'logo-bg' }),
    s('path', { d: 'M8 9h16l-5.5 7v6.5l-5 2.5v-9z', class: 'logo-mark' }));
}
