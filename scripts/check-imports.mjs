// `npm run lint`'s import rule, which Biome cannot express: code outside a room imports that room only
// through the room's index.ts. A room is a folder directly under src/ (src/event-store, src/ws, ...);
// inside a room, files import each other directly. A file directly under src/ (config.ts, errors.ts,
// budget.ts, ...) is a module of its own, imported as it is, and so is each read model in projections/.
// Tests may reach inside the room they specify: test/NAME/ inside src/NAME/ (and the rooms
// `testedRooms` adds). Also refused: an import cycle between rooms, or between files inside a room
// (`import type` lines are erased at run time and count for the rule, not for cycles).
//
// `node scripts/check-imports.mjs [root] [--strict]` prints each violation and exits 1 when there is
// one; cycles between rooms are warnings unless --strict. The violations of today are listed, as
// debts, in scripts/import-debts.txt: accepted until paid, and refused once listed but gone.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Test folders whose name is not the room they specify. */
const testedRooms = {
  abuse: ['ws', 'http'],
  chats: ['http'], // the chat routes' specification
  profiles: ['http'],
  projections: ['projection-runner', 'rebuild'],
  storage: ['fallback', 'event-store', 'lakebase'],
  faults: ['ws', 'http', 'event-store', 'fallback'],
  client: ['ws'],
  demo: ['http'],
  metrics: ['metrics'],
};

/** A relative module specifier after `from`, `import(` or a bare `import`; group 1 is `type` for `import type` / `export type`. */
const specifierPattern =
  /^[ \t]*(?:import|export)\s+(type\s)?[^;]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]+)\2|\bimport\s*\(\s*()(['"])(\.{1,2}\/[^'"]+)\5|^[ \t]*import\s*()(['"])(\.{1,2}\/[^'"]+)\8/gm;
const sourceExtensions = /\.(?:ts|mts|mjs|js)$/;

function filesUnder(folder) {
  if (!existsSync(folder)) return [];
  return readdirSync(folder).flatMap((name) => {
    const entry = path.join(folder, name);
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures') return [];
    return statSync(entry).isDirectory() ? filesUnder(entry) : sourceExtensions.test(name) && !name.endsWith('.d.ts') ? [entry] : [];
  });
}

/** The room a repository-relative path belongs to ('ws' for src/ws/hub.ts), or undefined. */
function roomOf(relative) {
  const parts = relative.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** The rooms a file may reach inside: its own, and for a test the rooms its folder specifies. */
function insideRooms(relative) {
  const parts = relative.split('/');
  const own = roomOf(relative);
  if (own !== undefined) return [own];
  if (parts[0] === 'test' && parts.length > 2) return [parts[1], ...(testedRooms[parts[1]] ?? [])];
  return [];
}

/** Every relative import of `file`, resolved to a repository-relative path. */
function importsOf(root, file) {
  const text = readFileSync(file, 'utf8');
  const found = [];
  for (const match of text.matchAll(specifierPattern)) {
    const specifier = match[3] ?? match[6] ?? match[9];
    const target = path
      .relative(root, path.resolve(path.dirname(file), specifier))
      .split(path.sep)
      .join('/');
    const line = text.slice(0, match.index).split('\n').length;
    found.push({ target, line, typeOnly: match[1] !== undefined });
  }
  return found;
}

/** Strongly connected components with more than one member (Tarjan), each as a sorted list. */
function cycles(graph) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (node) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), index.get(next)));
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

function addEdge(graph, from, to) {
  if (!graph.has(from)) graph.set(from, new Set());
  graph.get(from).add(to);
}

/** The violations in the repository at `root`, one line each, and the cycles between rooms. */
export function checkImports(root) {
  const problems = [];
  const roomGraph = new Map();
  const fileGraph = new Map();
  const files = ['src', 'projections', 'scripts', 'test'].flatMap((folder) => filesUnder(path.join(root, folder)));
  for (const file of files) {
    const relative = path.relative(root, file).split(path.sep).join('/');
    const fromRoom = roomOf(relative);
    for (const { target, line, typeOnly } of importsOf(root, file)) {
      const toRoom = roomOf(target);
      if (toRoom === undefined) continue;
      // A cycle is what runs: `import type` is erased.
      if (!typeOnly && fromRoom !== undefined && fromRoom !== toRoom) addEdge(roomGraph, fromRoom, toRoom);
      if (!typeOnly && fromRoom === toRoom) addEdge(fileGraph, relative, target);
      if (target === `src/${toRoom}/index.ts` || insideRooms(relative).includes(toRoom)) continue;
      problems.push(`${relative}:${line}: imports ${target}: outside src/${toRoom}/, import src/${toRoom}/index.ts`);
    }
  }
  for (const cycle of cycles(fileGraph)) problems.push(`import cycle inside src/${roomOf(cycle[0])}: ${cycle.join(', ')}`);
  const roomCycles = cycles(roomGraph).map((cycle) => {
    const edges = cycle.flatMap((from) => [...(roomGraph.get(from) ?? [])].filter((to) => cycle.includes(to)).map((to) => `${from} -> ${to}`));
    return `import cycle between rooms: ${edges.join(', ')}`;
  });
  return { problems, roomCycles };
}

/** scripts/import-debts.txt: the violations accepted for now, `file -> target` per line. */
function debtsOf(root) {
  const file = path.join(root, 'scripts', 'import-debts.txt');
  if (!existsSync(file)) return new Set();
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim());
  return new Set(lines.filter((line) => line !== '' && !line.startsWith('#')));
}

/** The problems not listed as debts, and the debts that no longer happen. */
export function withoutDebts(problems, debts) {
  const seen = new Set();
  const left = problems.filter((problem) => {
    const match = /^([^:]+):\d+: imports (\S+):/.exec(problem);
    if (match === null) return true;
    const debt = `${match[1]} -> ${match[2]}`;
    if (!debts.has(debt)) return true;
    seen.add(debt);
    return false;
  });
  return { problems: left, stale: [...debts].filter((debt) => !seen.has(debt)) };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const folder = process.argv.slice(2).find((argument) => !argument.startsWith('--'));
  const root = path.resolve(folder ?? fileURLToPath(new URL('..', import.meta.url)));
  const { problems: found, roomCycles } = checkImports(root);
  const { problems, stale } = withoutDebts(found, debtsOf(root));
  for (const debt of stale) problems.push(`${debt}: listed in scripts/import-debts.txt but no longer imported: delete the line`);
  // Known debt, said and not yet refused: the domain rooms and the HTTP room import each other (the
  // routes live beside their domain). Refuse them too (`--strict`) once they are gone.
  for (const cycle of roomCycles) process.stderr.write(`warning: ${cycle}\n`);
  if (process.argv.includes('--strict')) problems.push(...roomCycles);
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  if (problems.length > 0) {
    process.stderr.write(`${problems.length} import problem(s): a room is imported through its index.ts (scripts/check-imports.mjs says the rule)\n`);
    process.exit(1);
  }
}
