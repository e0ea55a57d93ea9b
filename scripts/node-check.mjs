// The Node.js version check of src/node-version.ts, in plain JavaScript for the commands that run
// before anything is compiled (`npm start`'s build, scripts/launch.mjs): on an older Node they stop
// here, in the same words, before a build starts. The version needed is package.json's `engines`,
// which test/node-version.e2e.spec.ts keeps equal to src/node-version.ts's.
import { readFileSync } from 'node:fs';

const engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
const required = `${engines.replace(/^>=/, '')}.0.0`.split('.').slice(0, 3).join('.');
const have = process.versions.node.split('.').map(Number);
const need = required.split('.').map(Number);
const difference = need.map((part, index) => have[index] - part).find((part) => part !== 0) ?? 0;
if (difference < 0) {
  process.stderr.write(
    `lakechat needs Node.js ${required} or later (Databricks Apps runs 22.16); this is Node.js ${process.versions.node} at ${process.execPath}. Install Node.js 22 and run again.\n`,
  );
  process.exit(1);
}
