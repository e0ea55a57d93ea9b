import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { withClient } from '../event-store/postgres-support.ts';

/**
 * A logical dump of the whole database: `pg_dump` when this machine's matches the server, else the
 * same data read table by table (every row of every base table of every schema, as text, plus the
 * definitions of views and column comments), which is what pg_dump's data section holds.
 */
export async function databaseText(url: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('pg_dump', ['--no-owner', url], { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch {
    return withClient(url, async (client) => {
      const tables = await client.query<{ name: string }>(
        `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      );
      let text = '';
      for (const { name } of tables.rows) {
        const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
        text += `-- ${name}\n${rows.rows.map((row) => row.row).join('\n')}\n`;
      }
      const catalog = await client.query<{ text: string }>(
        `SELECT string_agg(coalesce(pg_get_viewdef(c.oid), '') || coalesce(obj_description(c.oid), ''), E'\\n') AS text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
      );
      return text + (catalog.rows[0]?.text ?? '');
    });
  }
}
