// `npm run build`: compiles src/, projections/ and the operators' scripts/ (all but the bench) to
// plain JavaScript in dist/, so the app and the operators' commands start on Node 22.16 without a
// TypeScript loader, and copies the files the code reads relative to itself
// (migrations/, public/) to the same places under dist/. Then the client package (client/): its ESM
// with type declarations to client/dist/, and one bundled file for the demo page,
// dist/public/lakechat-client.js. Plain JavaScript itself: it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// The app's build goes to a folder of its own and replaces dist/ at the end in one rename, so a build
// that runs while a command starts from dist/ (two launchers, a test beside `npm start`) never leaves
// it half-made; a stale file from an earlier build (a deleted module) does not ship.
const staging = `dist.build-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
rmSync('client/dist', { recursive: true, force: true });

const require = createRequire(import.meta.url);
const typescript = require.resolve('typescript/package.json');
const tsc = path.join(path.dirname(typescript), 'bin', 'tsc');
for (const [project, outDir] of [
  ['tsconfig.build.json', staging],
  ['client/tsconfig.json', undefined],
]) {
  const compiled = spawnSync(process.execPath, [tsc, '-p', project, ...(outDir === undefined ? [] : ['--outDir', outDir])], { stdio: 'inherit' });
  if (compiled.status !== 0) process.exit(compiled.status ?? 1);
}

for (const folder of ['migrations', 'public']) {
  if (existsSync(folder)) cpSync(folder, `${staging}/${folder}`, { recursive: true });
}

// The same bundle src/http/demo-page.ts makes at start-up when it runs from the sources.
require('esbuild').buildSync({
  entryPoints: ['client/src/index.ts'],
  outfile: `${staging}/public/lakechat-client.js`,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  legalComments: 'none',
});

// Last: scripts/launch.mjs rebuilds when this is missing (an interrupted build) or older than a source.
writeFileSync(`${staging}/.built`, `${new Date().toISOString()}\n`);
const previous = `dist.old-${process.pid}`;
for (let attempt = 1; ; attempt++) {
  try {
    if (existsSync('dist')) renameSync('dist', previous);
    renameSync(staging, 'dist');
    break;
  } catch (error) {
    // Another build put its dist/ in place between our two renames: move it aside too, and retry.
    if (attempt >= 5) throw error;
    rmSync(previous, { recursive: true, force: true });
  }
}
rmSync(previous, { recursive: true, force: true });
