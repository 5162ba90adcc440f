/**
 * A query shipped with a table: `tables/<table>/<name>.sql` beside the table's declaration, whose
 * leading `--` comment lines describe it. Run by `streamlake query --named`, and deployed as an
 * Athena named query.
 *
 * Each is written in SQL that both engines accept and answer alike: Athena engine v3 (Trino) and
 * DuckDB; `npm run test:trino` runs each on both and compares the results.
 * - Standard SQL, window functions and the functions both share (`date_diff`, `round`, `avg`, `max`).
 * - Divide as doubles (`CAST(x AS double) / y`): Trino divides integers as integers and reads
 *   `100.0` as a DECIMAL whose scale sets the result's, where DuckDB's `/` gives a double.
 * - Time between timestamps in milliseconds (`date_diff('millisecond', a, b)`) or against an
 *   INTERVAL: in coarser units Trino counts whole units elapsed, DuckDB unit boundaries crossed.
 * - Cast `current_timestamp` to `timestamp` (sessions run in UTC).
 */
export interface NamedQuery {
  readonly name: string;
  /** The table whose declaration it ships with. */
  readonly table: string;
  readonly description: string;
  readonly sql: string;
}

export class UnknownQueryError extends Error {
  override name = 'UnknownQueryError';
}

/** A named query file is malformed; the message names the file. */
export class NamedQueryError extends Error {
  override name = 'NamedQueryError';
}

const QUERY_NAME = /^[a-z][a-z0-9_]{0,127}$/;

/** The named query in the text of `<name>.sql`: its leading `--` lines are the description, the rest the SQL. */
export function parseNamedQuery(table: string, name: string, text: string, source: string): NamedQuery {
  if (!QUERY_NAME.test(name)) throw new NamedQueryError(`${source}: a query file is named <query>.sql with lowercase letters, digits and _ (an Athena named query name)`);
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const comments = lines.findIndex((line) => !line.startsWith('--'));
  const description = lines.slice(0, comments).map((line) => line.replace(/^--\s?/, '')).join(' ').trim();
  const sql = lines.slice(comments).join('\n').trim().replace(/;$/, '');
  if (description === '') throw new NamedQueryError(`${source}: start the file with a -- comment line that says what the query answers`);
  if (sql === '') throw new NamedQueryError(`${source}: the file holds no SQL after its description`);
  return { name, table, description, sql };
}

/** The named query called `name` among `queries`. */
export function namedQuery(queries: readonly NamedQuery[], name: string): NamedQuery {
  const query = queries.find((q) => q.name === name);
  if (!query) {
    throw new UnknownQueryError(`no named query ${JSON.stringify(name)}; run \`streamlake queries\` to list them (${queries.map((q) => q.name).join(', ')})`);
  }
  return query;
}
