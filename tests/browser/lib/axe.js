// axe-core for the accessibility tests: run it on a page and describe what it found.
import assert from 'node:assert/strict';
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

/**
 * Audit the screen on `page` (already open) at `vpName`/`colorScheme`: checks the colour scheme is emulated, adds
 * every violation to `report` and the critical and serious ones to `failures`.
 */
export async function auditScreen(page, name, { vpName, colorScheme }, { report, failures }) {
  const dark = await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches);
  assert.equal(dark, colorScheme === 'dark', 'the colour scheme is emulated');
  const violations = await axe(page);
  if (violations.length) report.push(`${name}:\n${describe(violations)}`);
  const bad = violations.filter((v) => v.impact === 'critical' || v.impact === 'serious');
  if (bad.length) failures.push(`${name} (${vpName}, ${colorScheme}):\n${describe(bad)}`);
}
