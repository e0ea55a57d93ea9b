/**
 * `npm run doctor`: checks the Lakebase connection step by step, as the Lakebase guide's
 * troubleshooting section does by hand, and exits 0 only when every step passes.
 */
import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { runDoctor } from '../src/lakebase/index.ts';

const report = await runDoctor({ write: (line) => process.stdout.write(`${line}\n`) });
process.exitCode = report.ok ? 0 : 1;
