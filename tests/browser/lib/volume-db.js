// The volume database: N generated leads (lib/volume.js) imported through the real import path
// (`leadpipe import FILE --db`) once, and cached in artifacts/volume/ keyed by N and the generator's source.
// scripts/browser-tests.sh builds it before the timed test run (outside its timeout); tests/volume.test.js uses it.
//   node tests/browser/lib/volume-db.js [N]      # builds it if missing; prints its path and what it cost
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LEADPIPE_BIN, REPO_ROOT } from './harness.js';
import { leadsCsvFile } from './volume.js';

/** Rows in the volume database: LEADPIPE_VOLUME, default 100,000 (0: no volume test). */
export const VOLUME = Number(process.env.LEADPIPE_VOLUME ?? 100000);

/** The cached database of n imported leads, built when missing: {db, built: null | {generated, imported} (ms)}. */
export async function volumeDb(n = VOLUME) {
  const generator = readFileSync(new URL('./volume.js', import.meta.url));
  const key = createHash('sha256').update(generator).update(String(n)).digest('hex').slice(0, 12);
  const dir = path.join(REPO_ROOT, 'artifacts/volume');
  const db = path.join(dir, `leads-${n}-${key}.db`);
  if (existsSync(db)) return { db, built: null };
  mkdirSync(dir, { recursive: true });
  const csv = path.join(dir, `leads-${n}.csv`);
  const t0 = Date.now();
  await leadsCsvFile(csv, n);
  const generated = Date.now() - t0;
  const tmp = `${db}.building`;
  for (const ext of ['', '-wal', '-shm']) rmSync(tmp + ext, { force: true });
  const run = spawnSync(LEADPIPE_BIN, ['import', csv, '--db', tmp], { env: { ...process.env, RUST_LOG: 'warn' }, encoding: 'utf8', maxBuffer: 1 << 26 });
  rmSync(csv, { force: true });
  if (run.status !== 0) throw new Error(`leadpipe import failed (${run.status}): ${(run.stderr || '').slice(-2000)}`);
  const report = JSON.parse(run.stdout);
  if (report.imported !== n) throw new Error(`not every row was imported: ${JSON.stringify(report).slice(0, 1000)}`);
  for (const ext of ['', '-wal', '-shm']) if (existsSync(tmp + ext)) renameSync(tmp + ext, db + ext);
  return { db, built: { generated, imported: Date.now() - t0 - generated } };
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const n = Number(process.argv[2] ?? VOLUME);
  if (n) {
    const { db, built } = await volumeDb(n);
    console.error(built
      ? `volume: built ${n.toLocaleString('en-US')} leads in ${path.relative(REPO_ROOT, db)}: CSV in ${built.generated} ms, leadpipe import in ${(built.imported / 1000).toFixed(1)} s`
      : `volume: ${n.toLocaleString('en-US')} leads cached in ${path.relative(REPO_ROOT, db)}`);
  }
}
