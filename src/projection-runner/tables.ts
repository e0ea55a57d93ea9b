import { type IdentifierSqlToken, sql } from 'slonik';

/**
 * Where a projection's tables live. The live tables are the migrations' (no schema: the search path,
 * no suffix); a rebuild projects into shadow tables (a suffix) and an "as of" build into another
 * schema, with the same projection code, because no table name is written into its SQL.
 */
export interface TableLocation {
  readonly schema: string | null;
  readonly suffix: string;
}

export const liveTables: TableLocation = Object.freeze({ schema: null, suffix: '' });

/** Resolves a projection's logical table name ("chats") to the identifier of the table to use. */
export type TableNames = (logicalName: string) => IdentifierSqlToken;

export function tableNames(location: TableLocation): TableNames {
  const cache = new Map<string, IdentifierSqlToken>();
  return (logicalName) => {
    let identifier = cache.get(logicalName);
    if (identifier === undefined) {
      const name = `${logicalName}${location.suffix}`;
      identifier = sql.identifier(location.schema === null ? [name] : [location.schema, name]);
      cache.set(logicalName, identifier);
    }
    return identifier;
  };
}
