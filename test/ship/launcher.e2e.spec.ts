import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const operatorCommands = ['migrate', 'doctor', 'replay', 'projections:rebuild', 'projections:status', 'repair:copied-log'];

// A fresh clone of its own (no dist/), so its builds never race the other tests' dist/.
let clone: string;
beforeAll(() => {
  clone = mkdtempSync(path.join(tmpdir(), 'lakechat-launcher-'));
  for (const entry of [
    'src',
    'projections',
    'scripts',
    'migrations',
    'public',
    'client/src',
    'client/package.json',
    'client/tsconfig.json',
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ]) {
    cpSync(path.join(root, entry), path.join(clone, entry), { recursive: true });
  }
  symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'));
});
afterAll(() => rmSync(clone, { recursive: true, force: true }));

/** `npm run --silent replay -- ARGS` in the clone, with no database configured. */
function replay(...args: string[]) {
  return spawnSync('npm', ['run', '--silent', 'replay', '--', ...args], {
    cwd: clone,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 170_000,
  });
}

describe('the operators’ commands', () => {
  it('all start from dist/ with plain node through scripts/launch.mjs, and tsx is only a development tool', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const command of operatorCommands) expect(pkg.scripts[command], command).toMatch(/^node scripts\/launch\.mjs [a-z-]+$/);
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
  });

  it('build dist/ first on a fresh clone, with the build’s output kept off stdout, then run the compiled script', { timeout: 180_000 }, () => {
    const first = replay('--format', 'ndjson');
    expect(first.stderr).toContain('building first');
    expect(first.stdout).toBe('');
    // The compiled replay ran: it refuses to work without a database, in its own words.
    expect(first.stderr).toContain('LAKECHAT_ERR_REPLAY_NEEDS_DATABASE');
    expect(first.status).toBe(69);
    expect(existsSync(path.join(clone, 'dist/scripts/replay.js'))).toBe(true);

    const second = replay('--format', 'ndjson');
    expect(second.stderr).not.toContain('building first');
    expect(second.stderr).toContain('LAKECHAT_ERR_REPLAY_NEEDS_DATABASE');
    expect(second.status).toBe(69);
  });

  it('build again when a source file is newer than the last build', { timeout: 180_000 }, () => {
    const now = new Date(); // after the last build's stamp
    utimesSync(path.join(clone, 'src/config.ts'), now, now);
    const run = replay('--format', 'ndjson');
    expect(run.stderr).toContain('building first');
    expect(run.stdout).toBe('');
    expect(run.status).toBe(69);
    expect(replay('--format', 'ndjson').stderr).not.toContain('building first');
  });
});
