// `npm run build`: compiles src/ and projections/ to plain JavaScript in dist/, so the app starts on
// Node 22.16 without a TypeScript loader, and copies the files the code reads relative to itself
// (migrations/, public/) to the same places under dist/. Plain JavaScript itself: it runs before
// anything is compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// A stale file from an earlier build (a deleted module) must not ship.
rmSync('dist', { recursive: true, force: true });

const typescript = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = path.join(path.dirname(typescript), 'bin', 'tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

for (const folder of ['migrations', 'public']) {
  if (existsSync(folder)) cpSync(folder, `dist/${folder}`, { recursive: true });
}
