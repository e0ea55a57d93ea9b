import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requiredNode, unsupportedNode } from '../src/node-version.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A Node.js older than lakechat needs, if this machine has one (Debian's own node 20, say). */
const olderNode = ['/usr/bin/node', '/usr/local/bin/node'].find(
  (candidate) => existsSync(candidate) && unsupportedNode(execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim()) !== undefined,
);

describe('the Node.js version check', () => {
  it('refuses an older Node.js, naming the version needed and the version found', () => {
    for (const version of ['v20.20.2', '20.20.2', '22.11.9', '22.9.0', '18.0.0']) {
      const problem = unsupportedNode(version);
      expect(problem, version).toContain('Node.js 22.12.0 or later');
      expect(problem, version).toContain(`this is Node.js ${version.replace(/^v/, '')}`);
    }
  });

  it('accepts 22.12 and anything later, Databricks Apps’ 22.16 included', () => {
    for (const version of ['22.12.0', 'v22.16.0', '22.23.5', '23.0.0', '24.1.0', '100.0.0']) expect(unsupportedNode(version), version).toBeUndefined();
  });

  it('asks for what package.json’s engines says', () => {
    const engines = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(`>=${requiredNode.replace(/\.0$/, '')}`);
  });

  it.skipIf(olderNode === undefined)('stops the server, the scripts and `npm start` on an older Node.js before anything else, with that message', { timeout: 180_000 }, () => {
    const env = { ...process.env, PATH: `${olderNode!.replace(/\/node$/, '')}:${process.env.PATH ?? ''}`, PORT: '0' };
    // The sources under tsx, and the operators' commands as npm runs them (scripts/launch.mjs): the
    // launcher checks before it would build.
    for (const args of [
      ['--import', 'tsx', 'src/server.ts'],
      ['--import', 'tsx', 'scripts/replay.ts', '--format', 'ndjson'],
      ['scripts/launch.mjs', 'replay', '--format', 'ndjson'],
    ]) {
      const run = spawnSync(olderNode!, args, { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
      expect(run.status, args.join(' ')).toBe(1);
      expect(run.stderr.trim()).toMatch(/^lakechat needs Node\.js 22\.12\.0 or later .* this is Node\.js 20\./);
      expect(run.stdout).toBe('');
    }
    // `npm start` runs `prestart` (the build) first: the check comes before the build starts.
    const start = spawnSync('npm', ['start'], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
    expect(start.status).not.toBe(0);
    expect(start.stderr).toContain('lakechat needs Node.js 22.12.0 or later');
    expect(start.stdout).not.toContain('scripts/build.mjs');
  });
});
