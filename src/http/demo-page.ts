import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

// public/ sits beside src/ in the repository, and beside dist/src/ after `npm run build` copies it.
const publicFolder = fileURLToPath(new URL('../../public/', import.meta.url));

const files = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/demo/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { route: '/demo/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * The demo chat page (public/): three small files read once at start-up and served as they are, no
 * build step. The page uses only the public HTTP API and WebSocket protocol.
 */
export function registerDemoPage(app: FastifyInstance): void {
  for (const { route, file, type } of files) {
    const body = readFileSync(`${publicFolder}${file}`);
    app.get(route, async (_request, reply) => {
      // Revalidate each time: a redeploy changes the page, and the files are small.
      void reply.type(type).header('cache-control', 'no-cache');
      return body;
    });
  }
}
