import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type ColumnInfo,
  type QueryExecution,
  type Row,
} from '@aws-sdk/client-athena';

/**
 * Athena's price per terabyte of data scanned, in USD: the list price in us-east-1 and most Regions
 * (a few Regions charge more). A terabyte is taken as 2^40 bytes here.
 */
export const ATHENA_USD_PER_TB = 5;
const BYTES_PER_MB = 2 ** 20;
const BYTES_PER_TB = 2 ** 40;
/** Athena rounds the data a query scanned up to the next megabyte and bills at least this many megabytes per query. */
export const ATHENA_MINIMUM_BILLED_MB = 10;

const FIRST_POLL_MS = 200;
const MAX_POLL_MS = 2_000;
const POLL_GROWTH = 1.5;
/** The most rows GetQueryResults returns per page. */
const RESULTS_PAGE_ROWS = 1_000;

/** A value of a result row: numbers and booleans converted by the column type, other types as Athena prints them. */
export type AthenaValue = string | number | boolean | null;

/** Where a running query is, for progress display. */
export interface AthenaProgress {
  readonly executionId: string;
  /** QUEUED, RUNNING, or the final state. */
  readonly state: string;
  readonly elapsedMs: number;
}

/** A query to run on Athena. */
export interface AthenaQueryRequest {
  readonly sql: string;
  readonly workgroup: string;
  /** Glue database that unqualified table names refer to. @default the workgroup's default (`default`) */
  readonly database?: string;
  /** Called after each status poll. */
  readonly onProgress?: (progress: AthenaProgress) => void;
  /** Waits between status polls. @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Aborting it stops the query on Athena (StopQueryExecution), so it bills no further scan, and throws {@link AthenaQueryStoppedError}. */
  readonly signal?: AbortSignal;
}

/** The rows of a finished query and what it cost. */
export interface AthenaQueryResult {
  readonly executionId: string;
  readonly columns: string[];
  readonly rows: Record<string, AthenaValue>[];
  readonly dataScannedBytes: number;
  /** What Athena bills for the data scanned, per {@link athenaCostUsd}. */
  readonly costUsd: number;
}

/** Athena ran the query and it failed or was cancelled; the message carries Athena's reason. */
export class AthenaQueryFailedError extends Error {
  override name = 'AthenaQueryFailedError';
  readonly executionId: string;
  readonly state: string;
  readonly reason: string;

  constructor(executionId: string, state: string, reason: string) {
    super(`Athena query ${executionId} ${state === 'CANCELLED' ? 'was cancelled' : 'failed'}: ${reason}; ${failureHint(state, reason)}`);
    this.executionId = executionId;
    this.state = state;
    this.reason = reason;
  }
}

/** The caller aborted the query, and it was stopped on Athena. */
export class AthenaQueryStoppedError extends Error {
  override name = 'AthenaQueryStoppedError';
  readonly executionId: string;

  constructor(executionId: string) {
    super(`Athena query ${executionId} was stopped (StopQueryExecution); Athena bills the data it scanned until then`);
    this.executionId = executionId;
  }
}

/** Athena could not be reached or refused the request (credentials, region, workgroup, permissions); the message says what to do. */
export class AthenaAccessError extends Error {
  override name = 'AthenaAccessError';
}

/** What Athena bills for a query that scanned `scannedBytes`: rounded up to a megabyte, at least {@link ATHENA_MINIMUM_BILLED_MB}, at {@link ATHENA_USD_PER_TB}. */
export function athenaCostUsd(scannedBytes: number): number {
  const billedMB = Math.max(ATHENA_MINIMUM_BILLED_MB, Math.ceil(scannedBytes / BYTES_PER_MB));
  return ((billedMB * BYTES_PER_MB) / BYTES_PER_TB) * ATHENA_USD_PER_TB;
}

/**
 * Runs one query on Athena: starts it in the workgroup, polls its state with growing pauses until
 * it ends, then reads every page of its results. A failed or cancelled query throws
 * {@link AthenaQueryFailedError}; a request AWS refuses throws {@link AthenaAccessError}.
 */
export async function runAthenaQuery(client: AthenaClient, request: AthenaQueryRequest): Promise<AthenaQueryResult> {
  try {
    const executionId = await startQuery(client, request);
    const execution = await waitForQuery(client, executionId, request);
    const dataScannedBytes = execution.Statistics?.DataScannedInBytes ?? 0;
    return { executionId, ...(await fetchResults(client, executionId)), dataScannedBytes, costUsd: athenaCostUsd(dataScannedBytes) };
  } catch (error) {
    throw error instanceof AthenaQueryFailedError || error instanceof AthenaQueryStoppedError ? error : explainAwsError(error, request);
  }
}

async function startQuery(client: AthenaClient, request: AthenaQueryRequest): Promise<string> {
  const { QueryExecutionId } = await client.send(
    new StartQueryExecutionCommand({
      QueryString: request.sql,
      WorkGroup: request.workgroup,
      ...(request.database === undefined ? {} : { QueryExecutionContext: { Database: request.database } }),
    }),
  );
  return QueryExecutionId!;
}

async function waitForQuery(client: AthenaClient, executionId: string, request: AthenaQueryRequest): Promise<QueryExecution> {
  const sleep = request.sleep ?? ((ms: number) => abortableDelay(ms, request.signal));
  const started = performance.now();
  for (let pause = FIRST_POLL_MS; ; pause = Math.min(pause * POLL_GROWTH, MAX_POLL_MS)) {
    await stopIfAborted(client, executionId, request.signal);
    await sleep(pause);
    await stopIfAborted(client, executionId, request.signal);
    const { QueryExecution: execution = {} } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: executionId }));
    const state = execution.Status?.State ?? 'QUEUED';
    request.onProgress?.({ executionId, state, elapsedMs: performance.now() - started });
    if (state === 'SUCCEEDED') return execution;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new AthenaQueryFailedError(executionId, state, oneLine(execution.Status?.StateChangeReason ?? execution.Status?.AthenaError?.ErrorMessage ?? 'Athena gave no reason'));
    }
  }
}

async function stopIfAborted(client: AthenaClient, executionId: string, signal: AbortSignal | undefined): Promise<void> {
  if (!signal?.aborted) return;
  await client.send(new StopQueryExecutionCommand({ QueryExecutionId: executionId }));
  throw new AthenaQueryStoppedError(executionId);
}

/** A timer that ends early when `signal` aborts. */
function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

async function fetchResults(client: AthenaClient, executionId: string): Promise<Pick<AthenaQueryResult, 'columns' | 'rows'>> {
  let columns: ColumnInfo[] | undefined;
  const rows: Record<string, AthenaValue>[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: executionId, MaxResults: RESULTS_PAGE_ROWS, NextToken: token }));
    const pageRows = page.ResultSet?.Rows ?? [];
    if (columns === undefined) {
      columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      if (pageRows.length > 0 && isHeader(pageRows[0]!, columns)) pageRows.shift();
    }
    for (const row of pageRows) rows.push(rowOf(row, columns));
    token = page.NextToken;
  } while (token !== undefined);
  return { columns: (columns ?? []).map((c) => c.Name ?? ''), rows };
}

// The first row of a SELECT's first page repeats the column names; DDL results have no such row.
function isHeader(row: Row, columns: readonly ColumnInfo[]): boolean {
  const cells = row.Data ?? [];
  return cells.length === columns.length && cells.every((cell, i) => cell.VarCharValue === columns[i]!.Name);
}

function rowOf(row: Row, columns: readonly ColumnInfo[]): Record<string, AthenaValue> {
  const cells = row.Data ?? [];
  return Object.fromEntries(columns.map((column, i) => [column.Name ?? '', valueOf(cells[i]?.VarCharValue, column.Type ?? 'varchar')]));
}

const NUMBER_TYPES = new Set(['tinyint', 'smallint', 'integer', 'real', 'float', 'double', 'decimal']);

/** A cell by its column type. Athena leaves VarCharValue out for NULL; timestamps and dates stay as Athena prints them. */
function valueOf(text: string | undefined, type: string): AthenaValue {
  if (text === undefined) return null;
  if (type === 'bigint') return Number.isSafeInteger(Number(text)) ? Number(text) : text; // beyond 2^53 a number would lie
  if (NUMBER_TYPES.has(type)) return Number(text);
  if (type === 'boolean') return text === 'true';
  return text;
}

function failureHint(state: string, reason: string): string {
  if (/bytes scanned limit/i.test(reason)) return 'filter on dt and hour to scan less, or raise athenaBytesScannedCutoffMB in lib/config.ts and deploy';
  if (/SCHEMA_NOT_FOUND|TABLE_NOT_FOUND|does not exist/i.test(reason)) return 'check --database names the Glue database the stack deployed';
  return state === 'CANCELLED' ? 'it was stopped in Athena; run it again' : 'fix the query and run it again';
}

const ACCESS_REFUSED = new Set(['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'ExpiredToken']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET']);

/** An AWS SDK error as an {@link AthenaAccessError} saying what to do; other errors unchanged. */
function explainAwsError(error: unknown, request: AthenaQueryRequest): unknown {
  if (!(error instanceof Error)) return error;
  const detail = oneLine(error.message);
  const code = (error as NodeJS.ErrnoException).code;
  if (error.name === 'CredentialsProviderError') {
    return new AthenaAccessError(`no AWS credentials found (${detail}): sign in with \`aws sso login\` or \`aws configure\`, or set AWS_PROFILE to a profile that may query Athena`);
  }
  if (/region is missing/i.test(detail)) {
    return new AthenaAccessError('no AWS region set: set AWS_REGION (or AWS_PROFILE to a profile with a region) to the region streamlake is deployed in');
  }
  if (error.name === 'InvalidRequestException' && /workgroup/i.test(detail) && /not found|does not exist/i.test(detail)) {
    return new AthenaAccessError(`Athena workgroup ${JSON.stringify(request.workgroup)} does not exist in this account and region (${detail}): deploy the stack with \`npx cdk deploy\`, set AWS_REGION to the region it is in, or pass --workgroup <name>`);
  }
  if (ACCESS_REFUSED.has(error.name)) {
    return new AthenaAccessError(`AWS refused the request (${error.name}: ${detail}): refresh your credentials (\`aws sso login\`) and check they may use Athena, Glue and the lake buckets`);
  }
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return new AthenaAccessError(`could not reach Athena (${code}: ${detail}): check your network connection and AWS_REGION`);
  }
  if ('$metadata' in error) return new AthenaAccessError(`Athena refused the request (${error.name}: ${detail}); fix what it names and run the query again`);
  return error;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
