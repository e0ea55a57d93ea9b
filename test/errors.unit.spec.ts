import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorCatalogue } from '../src/errors.ts';

const documentation = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map([...documentation.matchAll(/^## (LAKECHAT_ERR_[A-Z0-9_]+)\s*\n+Status: (\d{3})/gm)].map((m) => [m[1]!, Number(m[2])]));

describe('the error catalogue', () => {
  it('documents every code in docs/errors.md with its status', () => {
    for (const [code, spec] of Object.entries(errorCatalogue)) {
      expect(documented.get(code), code).toBe(spec.status);
    }
  });

  it('documents no code that does not exist', () => {
    for (const code of documented.keys()) expect(Object.keys(errorCatalogue), code).toContain(code);
  });

  it('names every code LAKECHAT_ERR_<AREA>_<WHAT>', () => {
    for (const code of Object.keys(errorCatalogue)) expect(code).toMatch(/^LAKECHAT_ERR_[A-Z0-9]+_[A-Z0-9_]+$/);
  });
});
