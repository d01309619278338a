// axe-core for the accessibility tests: run it on a page and describe what it found.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');

/** Run axe on the page as it is; return the violations. */
export async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations;
}

/** The violations as readable lines: impact, rule, count, help, and the first nodes with why they fail. */
export function describe(violations) {
  return violations.map((v) => `  [${v.impact}] ${v.id} ×${v.nodes.length}: ${v.help}\n${v.nodes.slice(0, 4).map((n) => `      ${n.target.join(' ')}\n        ${(n.failureSummary || '').split('\n').join('\n        ')}`).join('\n')}`).join('\n');
}
