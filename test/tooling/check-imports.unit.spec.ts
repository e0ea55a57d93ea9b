import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const checker = fileURLToPath(new URL('../../scripts/check-imports.mjs', import.meta.url));
const made: string[] = [];
afterEach(() => {
  for (const folder of made.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A repository of `files` (path: text) in a fresh folder, checked as `npm run lint` checks this one. */
function check(files: Record<string, string>, ...flags: string[]) {
  const root = mkdtempSync(path.join(tmpdir(), 'lakechat-imports-'));
  made.push(root);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  const run = spawnSync(process.execPath, [checker, root, ...flags], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

const rooms = {
  'src/ws/index.ts': "export { WsHub } from './hub.ts';\n",
  'src/ws/hub.ts': "import { Budget } from '../budget.ts';\nimport { appendEvents } from '../event-store/index.ts';\nexport class WsHub {}\n",
  'src/event-store/index.ts': "export { appendEvents } from './append.ts';\n",
  'src/event-store/append.ts': 'export function appendEvents() {}\n',
  'src/budget.ts': 'export class Budget {}\n',
};

describe('the import rule (scripts/check-imports.mjs)', () => {
  it('passes rooms imported through their index.ts, files of a room importing each other, and files directly under src/', () => {
    const run = check({ ...rooms, 'scripts/serve.ts': "import { WsHub } from '../src/ws/index.ts';\nimport { Budget } from '../src/budget.ts';\n" });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('fails on a file that reaches inside another room, naming the file, the line and the index.ts to use', () => {
    const run = check({
      ...rooms,
      'src/ws/hub.ts': "import type { Budget } from '../budget.ts';\nimport { appendEvents } from '../event-store/append.ts';\n",
      'scripts/serve.ts': "\n\nexport { WsHub } from '../src/ws/hub.ts';\n",
      'projections/chats.ts': "const lazy = () => import('../src/event-store/append.ts');\n",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('src/ws/hub.ts:2: imports src/event-store/append.ts: outside src/event-store/, import src/event-store/index.ts');
    expect(run.stderr).toContain('scripts/serve.ts:3: imports src/ws/hub.ts: outside src/ws/, import src/ws/index.ts');
    expect(run.stderr).toContain('projections/chats.ts:1: imports src/event-store/append.ts');
  });

  it('lets a test reach inside the room it specifies, and no other', () => {
    const run = check({
      ...rooms,
      'test/ws/hub.unit.spec.ts': "import { WsHub } from '../../src/ws/hub.ts';\n",
      'test/ws/append.unit.spec.ts': "import { appendEvents } from '../../src/event-store/append.ts';\n",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).not.toContain('test/ws/hub.unit.spec.ts');
    expect(run.stderr).toContain('test/ws/append.unit.spec.ts:1: imports src/event-store/append.ts');
  });

  it('fails on an import cycle between files of a room, but not on one that only `import type` closes', () => {
    const cyclic = {
      ...rooms,
      'src/ws/connection.ts': "import { Subscription } from './subscription.ts';\nexport class WsConnection {}\n",
      'src/ws/subscription.ts': "import { WsConnection } from './connection.ts';\nexport class Subscription {}\n",
    };
    const run = check(cyclic);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('import cycle inside src/ws: src/ws/connection.ts, src/ws/subscription.ts');

    const typeOnly = check({ ...cyclic, 'src/ws/subscription.ts': "import type { WsConnection } from './connection.ts';\nexport class Subscription {}\n" });
    expect(typeOnly.stderr).toBe('');
    expect(typeOnly.status).toBe(0);
  });

  it('warns of an import cycle between rooms, and fails on it with --strict', () => {
    const cyclic = { ...rooms, 'src/event-store/append.ts': "import { WsHub } from '../ws/index.ts';\nexport function appendEvents() {}\n" };
    const run = check(cyclic);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('warning: import cycle between rooms: event-store -> ws, ws -> event-store');
    expect(check(cyclic, '--strict').status).toBe(1);
  });

  it('accepts the debts scripts/import-debts.txt lists, and fails on a listed debt that no longer happens', () => {
    const reaching = { ...rooms, 'scripts/serve.ts': "import { WsHub } from '../src/ws/hub.ts';\n" };
    const listed = check({ ...reaching, 'scripts/import-debts.txt': '# debts\nscripts/serve.ts -> src/ws/hub.ts\n' });
    expect(listed.stderr).toBe('');
    expect(listed.status).toBe(0);

    const paid = check({ ...rooms, 'scripts/serve.ts': "import { WsHub } from '../src/ws/index.ts';\n", 'scripts/import-debts.txt': 'scripts/serve.ts -> src/ws/hub.ts\n' });
    expect(paid.status).toBe(1);
    expect(paid.stderr).toContain('scripts/serve.ts -> src/ws/hub.ts: listed in scripts/import-debts.txt but no longer imported: delete the line');
  });
});
