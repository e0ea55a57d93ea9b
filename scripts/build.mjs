// `npm run build`: compiles src/, projections/ and the operators' scripts/ (all but the bench) to
// plain JavaScript in dist/, so the app and the operators' commands start on Node 22.16 without a
// TypeScript loader, and copies the files the code reads relative to itself
// (migrations/, public/) to the same places under dist/. Then the client package (client/): its ESM
// with type declarations to client/dist/, and one bundled file for the demo page,
// dist/public/lakechat-client.js. Plain JavaScript itself: it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// A stale file from an earlier build (a deleted module) must not ship.
rmSync('dist', { recursive: true, force: true });
rmSync('client/dist', { recursive: true, force: true });

const require = createRequire(import.meta.url);
const typescript = require.resolve('typescript/package.json');
const tsc = path.join(path.dirname(typescript), 'bin', 'tsc');
for (const project of ['tsconfig.build.json', 'client/tsconfig.json']) {
  const compiled = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  if (compiled.status !== 0) process.exit(compiled.status ?? 1);
}

for (const folder of ['migrations', 'public']) {
  if (existsSync(folder)) cpSync(folder, `dist/${folder}`, { recursive: true });
}

// The same bundle src/http/demo-page.ts makes at start-up when it runs from the sources.
require('esbuild').buildSync({
  entryPoints: ['client/src/index.ts'],
  outfile: 'dist/public/lakechat-client.js',
  bundle: true,
  format: 'esm',
  target: 'es2022',
  legalComments: 'none',
});

// Last: scripts/launch.mjs rebuilds when this is missing (an interrupted build) or older than a source.
writeFileSync('dist/.built', `${new Date().toISOString()}\n`);
