/**
 * The repository stands alone: its README and docs link nothing outside it, and every documented
 * command that writes data to stdout keeps npm's own lines out of that data.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const documents = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const read = (document: string) => readFileSync(path.join(root, document), 'utf8');
const inside = (target: string) => !path.relative(root, target).startsWith('..') && !path.isAbsolute(path.relative(root, target));

/** Relative paths a document names (markdown links, and `../…` paths in prose or code) that lead outside the repository or nowhere. */
function pathsLeaving(document: string, text = read(document)): string[] {
  const folder = path.dirname(path.join(root, document));
  const found: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
    const resolved = path.resolve(folder, target!);
    if (!inside(resolved) || !existsSync(resolved)) found.push(target!);
  }
  for (const [candidate] of text.matchAll(/(?:\.\.\/)+[\w./-]+/g)) {
    const resolved = path.resolve(folder, candidate);
    // A path written relative to a source file (`../../public/`) names a folder of the repository.
    const asRepositoryPath = path.join(root, candidate.replace(/^(\.\.\/)+/, ''));
    if (!(inside(resolved) && existsSync(resolved)) && !existsSync(asRepositoryPath)) found.push(candidate);
  }
  for (const [absolute] of text.matchAll(/(?<![\w.~-])\/(?:work|root|home|tmp)\/[\w./-]*[\w/]/g)) found.push(absolute);
  return found;
}

/** The lines of a document's fenced code blocks that are shell (```bash, ```sh, or no language). */
function shellLines(document: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of read(document).split('\n')) {
    const opening = /^```(\w*)\s*$/.exec(line);
    if (opening !== null) fence = fence === undefined ? opening[1] : undefined;
    else if (fence !== undefined && ['', 'bash', 'sh', 'shell'].includes(fence)) lines.push(line);
  }
  return lines;
}

describe('the documentation', () => {
  it('links nothing outside the repository (README.md and docs/*.md)', () => {
    expect(documents.length).toBeGreaterThan(5);
    const leaving = documents.map((document) => ({ document, found: pathsLeaving(document) })).filter(({ found }) => found.length > 0);
    expect(leaving).toEqual([]);
  });

  it('catches a link or a path outside the repository, as this check is written', () => {
    const text = 'See `../shared/seeds/LAKEBASE_SETUP.md`, [errors](errors.md), [far](../../outside.md), [web](https://example.com) and /work/shared/x.md.';
    expect(pathsLeaving('docs/example.md', text)).toEqual(['../../outside.md', '../shared/seeds/LAKEBASE_SETUP.md', '../../outside.md', '/work/shared/x.md']);
  });

  it('says what the personal-finance app is and what it needs from Lakebase, in its own words', () => {
    const readme = read('README.md');
    expect(readme).toContain('## Where lakechat comes from');
    for (const words of ['personal-finance', 'taxFilingStatus', 'riskTolerance', 'Can connect and create', 'LAKEBASE_INSTANCE_NAME', 'npm run doctor']) expect(readme).toContain(words);
  });

  it('runs every documented command whose stdout is data with npm --silent, so npm’s banner stays out of it', () => {
    const offending: string[] = [];
    for (const document of documents) {
      for (const line of shellLines(document)) {
        const command = line.replace(/\s+#.*$/, '');
        const npmRun = /\bnpm run (?!-)/.test(command); // `npm run --silent …` and `npm run -s …` pass
        const stdoutIsData = /\s(\||>>?)\s/.test(command) || (/\bnpm run \S*\s*replay\b/.test(command) && !/--out\b|--into\b|--help\b/.test(command));
        if (npmRun && stdoutIsData) offending.push(`${document}: ${line.trim()}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
