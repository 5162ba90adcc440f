import { setTimeout as sleep } from 'node:timers/promises';

/** Where a statement runs: the server, its catalog, and the schema unqualified table names resolve in (Athena's `QueryExecutionContext.Database`). */
export interface TrinoSession {
  readonly url: string;
  readonly catalog: string;
  readonly schema?: string;
}

/** A result column: its name and its Trino type, e.g. `timestamp(3)` or `decimal(24,1)`. */
export interface TrinoColumn {
  readonly name: string;
  readonly type: string;
}

/** The rows of a statement, each an array in column order, values as Trino's JSON gives them. */
export interface TrinoResult {
  readonly columns: TrinoColumn[];
  readonly rows: unknown[][];
}

/** Trino rejected or failed the statement; the message is Trino's, e.g. `SYNTAX_ERROR: line 1:8: mismatched input …`. */
export class TrinoQueryError extends Error {
  override name = 'TrinoQueryError';
  readonly errorName: string;

  constructor(errorName: string, message: string) {
    super(`${errorName}: ${message}`);
    this.errorName = errorName;
  }
}

interface StatementPage {
  readonly nextUri?: string;
  readonly columns?: TrinoColumn[];
  readonly data?: unknown[][];
  readonly error?: { readonly errorName: string; readonly message: string };
}

// The protocol asks clients to retry these after a short pause: the server is busy, not failing.
const BUSY_STATUSES = new Set([502, 503, 504]);
const BUSY_RETRY_MS = 100;
const BUSY_RETRIES = 100;

/**
 * Runs one statement over Trino's client REST protocol: POST /v1/statement, then GET each
 * `nextUri` until none is left, collecting the rows. The session is in UTC, as Athena's are, and
 * timestamps come back at their declared precision (`timestamp(3)`: `2026-03-01 23:00:00.276`).
 */
export async function queryTrino(session: TrinoSession, sql: string): Promise<TrinoResult> {
  const headers = {
    'X-Trino-User': 'streamlake',
    'X-Trino-Catalog': session.catalog,
    ...(session.schema === undefined ? {} : { 'X-Trino-Schema': session.schema }),
    'X-Trino-Time-Zone': 'UTC',
    // Without it, Trino reports every timestamp as `timestamp`, rounded to milliseconds.
    'X-Trino-Client-Capabilities': 'PARAMETRIC_DATETIME',
  };
  let page = await request(`${session.url}/v1/statement`, { method: 'POST', headers, body: sql });
  let columns: TrinoColumn[] | undefined;
  const rows: unknown[][] = [];
  for (;;) {
    if (page.error) throw new TrinoQueryError(page.error.errorName, page.error.message);
    columns ??= page.columns?.map(({ name, type }) => ({ name, type }));
    rows.push(...(page.data ?? []));
    if (page.nextUri === undefined) return { columns: columns ?? [], rows };
    page = await request(page.nextUri, { headers });
  }
}

async function request(url: string, init: RequestInit): Promise<StatementPage> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, init);
    if (BUSY_STATUSES.has(response.status) && attempt < BUSY_RETRIES) {
      await sleep(BUSY_RETRY_MS);
      continue;
    }
    if (!response.ok) throw new TrinoQueryError(`HTTP_${response.status}`, `${init.method ?? 'GET'} ${url} failed: ${await response.text()}`);
    return (await response.json()) as StatementPage;
  }
}
