// Runs an operator's command (`npm run replay`, `migrate`, `doctor`, ...) from the compiled
// JavaScript in dist/: `node scripts/launch.mjs replay --since ...` runs dist/scripts/replay.js in
// this process, with the arguments after the name. When dist/ is missing or older than a source file
// (a fresh clone, a `git pull`), it runs `npm run build` first, its output on stderr so stdout stays
// the command's data. Plain JavaScript: it runs before anything is compiled.
import './node-check.mjs'; // first: on an older Node, say so before anything else runs
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** What the build reads (scripts/build.mjs); dist/ is stale when any of it changed after the build. */
const sources = ['src', 'projections', 'scripts', 'migrations', 'public', 'client/src', 'client/tsconfig.json', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
/** Not compiled (`npm run bench` runs under tsx). */
const ignored = new Set([path.join(root, 'scripts', 'bench'), path.join(root, 'scripts', 'bench.ts')]);
/** Written by scripts/build.mjs once a build has finished. */
const stamp = path.join(root, 'dist', '.built');

function newestChange(entry) {
  if (ignored.has(entry) || !existsSync(entry)) return 0;
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs; // a deleted file changes its folder
  for (const name of readdirSync(entry)) newest = Math.max(newest, newestChange(path.join(entry, name)));
  return newest;
}

function stale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return sources.some((source) => newestChange(path.join(root, source)) > built);
}

const [name, ...args] = process.argv.slice(2);
const entry = path.join(root, 'dist', 'scripts', `${name}.js`);
if (name === undefined || !existsSync(path.join(root, 'scripts', `${name}.ts`))) {
  process.stderr.write(`usage: node scripts/launch.mjs <script> [arguments]: no scripts/${name ?? '<script>'}.ts\n`);
  process.exit(64);
}
if (stale()) {
  process.stderr.write(`${name}: dist/ is missing or older than the sources: building first (npm run build)\n`);
  const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// The script reads its arguments from process.argv.slice(2), as when node runs it directly.
process.argv.splice(1, process.argv.length - 1, entry, ...args);
await import(pathToFileURL(entry).href);
