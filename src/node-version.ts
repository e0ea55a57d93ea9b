/**
 * The Node.js version lakechat needs (package.json's `engines`, which npm only warns about), checked
 * at start-up by the server and every script. Each entry point imports this module first, so on an
 * older Node the check runs before any other module is loaded and fails in its own words.
 */
export const requiredNode = '22.12.0';

function parse(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
}

/** Why `version` cannot run lakechat, or undefined when it can. */
export function unsupportedNode(version: string, required = requiredNode): string | undefined {
  const have = parse(version);
  const need = parse(required);
  for (let index = 0; index < need.length; index += 1) {
    const difference = (have[index] ?? 0) - need[index]!;
    if (difference > 0) return undefined;
    if (difference < 0) {
      return `lakechat needs Node.js ${required} or later (Databricks Apps runs 22.16); this is Node.js ${version.replace(/^v/, '')} at ${process.execPath}. Install Node.js 22 and run again.`;
    }
  }
  return undefined;
}

const problem = unsupportedNode(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
