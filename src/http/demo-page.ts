import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

// public/ sits beside src/ in the repository, and beside dist/src/ after `npm run build` copies it.
const publicFolder = fileURLToPath(new URL('../../public/', import.meta.url));
const clientEntry = fileURLToPath(new URL('../../client/src/index.ts', import.meta.url));
const clientBundle = 'lakechat-client.js';

const files = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/demo/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { route: '/demo/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
  { route: `/demo/${clientBundle}`, file: clientBundle, type: 'text/javascript; charset=utf-8' },
] as const;

let bundled: Buffer | undefined;

/**
 * The client package (client/) as one ES module for the page: `npm run build` writes it into
 * dist/public/; running from the sources (npm run dev, the tests), it is bundled on the first request,
 * once per process, with the esbuild that tsx brings.
 */
function clientModule(): Buffer {
  if (bundled !== undefined) return bundled;
  const built = `${publicFolder}${clientBundle}`;
  if (existsSync(built)) return (bundled = readFileSync(built));
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const result = esbuild.buildSync({ entryPoints: [clientEntry], bundle: true, format: 'esm', target: 'es2022', legalComments: 'none', write: false });
  return (bundled = Buffer.from(result.outputFiles[0]!.contents));
}

/**
 * The demo chat page (public/): small files read once at start-up and served as they are. The page
 * uses only the public HTTP API and WebSocket protocol, through the client package.
 */
export function registerDemoPage(app: FastifyInstance): void {
  for (const { route, file, type } of files) {
    const body = file === clientBundle ? undefined : readFileSync(`${publicFolder}${file}`);
    app.get(route, async (_request, reply) => {
      // Revalidate each time: a redeploy changes the page, and the files are small.
      void reply.type(type).header('cache-control', 'no-cache');
      return body ?? clientModule();
    });
  }
}
