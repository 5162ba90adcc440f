import {
  AthenaClient,
  AthenaServiceException,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  InvalidRequestException,
  StartQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  type GetQueryResultsCommandOutput,
  type QueryExecutionState,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { namedQuery } from '../../../lambdas/core/queries.ts';
import { DECLARED } from '../../helpers/tables.ts';
import {
  AthenaAccessError,
  athenaCostUsd,
  AthenaQueryFailedError,
  runAthenaQuery,
  type AthenaProgress,
  type AthenaQueryRequest,
} from '../../../src/athena/athena-query.ts';

const MiB = 2 ** 20;
const TiB = 2 ** 40;
const ID = 'a1b2c3d4-0000-4000-8000-000000000001';

const athena = mockClient(AthenaClient);
let sleeps: number[];
let progress: AthenaProgress[];

function request(overrides: Partial<AthenaQueryRequest> = {}): AthenaQueryRequest {
  return {
    sql: 'SELECT site FROM device_logs',
    workgroup: 'streamlake',
    database: 'streamlake',
    onProgress: (p) => progress.push(p),
    sleep: async (ms) => void sleeps.push(ms),
    ...overrides,
  };
}

function execution(state: QueryExecutionState, extra: { reason?: string; scanned?: number } = {}): GetQueryExecutionCommandOutput {
  return {
    QueryExecution: { QueryExecutionId: ID, Status: { State: state, StateChangeReason: extra.reason }, Statistics: { DataScannedInBytes: extra.scanned } },
    $metadata: {},
  };
}

/** A results page: the cells as Athena sends them (undefined: NULL, no VarCharValue). */
function resultsPage(columns: [string, string][], rows: (string | undefined)[][], nextToken?: string): GetQueryResultsCommandOutput {
  return {
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: columns.map(([Name, Type]) => ({ Name, Type })) },
      Rows: rows.map((cells) => ({ Data: cells.map((VarCharValue) => (VarCharValue === undefined ? {} : { VarCharValue })) })),
    },
    NextToken: nextToken,
    $metadata: {},
  };
}

const SITE_COLUMNS: [string, string][] = [['site', 'varchar'], ['readings', 'bigint']];

function succeedWith(...pages: GetQueryResultsCommandOutput[]): void {
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
  athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED', { scanned: 1_234_567 }));
  const results = athena.on(GetQueryResultsCommand);
  pages.forEach((page) => results.resolvesOnce(page));
}

const inputs = (calls: readonly { args: readonly [{ input: unknown }] }[]) => calls.map((call) => call.args[0].input);

describe('runAthenaQuery', () => {
  beforeEach(() => {
    athena.reset();
    sleeps = [];
    progress = [];
  });

  afterAll(() => athena.restore());

  it('starts the query with the exact SQL, workgroup and database', async () => {
    const sql = namedQuery(DECLARED.queries, 'site_summary').sql;
    succeedWith(resultsPage(SITE_COLUMNS, [['site', 'readings']]));

    await runAthenaQuery(new AthenaClient({}), request({ sql, workgroup: 'analytics', database: 'lake_db' }));
    expect(inputs(athena.commandCalls(StartQueryExecutionCommand))).toEqual([{ QueryString: sql, WorkGroup: 'analytics', QueryExecutionContext: { Database: 'lake_db' } }]);
  });

  it('leaves the database to the workgroup when none is given', async () => {
    succeedWith(resultsPage(SITE_COLUMNS, [['site', 'readings']]));
    await runAthenaQuery(new AthenaClient({}), request({ database: undefined }));
    expect(inputs(athena.commandCalls(StartQueryExecutionCommand))[0]).not.toHaveProperty('QueryExecutionContext');
  });

  it('polls with growing pauses until the query succeeds, reporting each state', async () => {
    succeedWith(resultsPage(SITE_COLUMNS, [['site', 'readings']]));
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(execution('QUEUED'))
      .resolvesOnce(execution('RUNNING'))
      .resolvesOnce(execution('RUNNING'))
      .resolves(execution('SUCCEEDED', { scanned: 42 }));

    const result = await runAthenaQuery(new AthenaClient({}), request());
    expect(progress.map((p) => p.state)).toEqual(['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED']);
    expect(progress.every((p) => p.executionId === ID && p.elapsedMs >= 0)).toBe(true);
    expect(sleeps).toEqual([200, 300, 450, 675]);
    expect(inputs(athena.commandCalls(GetQueryExecutionCommand))).toEqual(Array(4).fill({ QueryExecutionId: ID }));
    expect(result).toMatchObject({ executionId: ID, dataScannedBytes: 42 });
  });

  it('caps the pause between polls at 2 seconds', async () => {
    succeedWith(resultsPage(SITE_COLUMNS, [['site', 'readings']]));
    const polls = athena.on(GetQueryExecutionCommand);
    for (let i = 0; i < 12; i++) polls.resolvesOnce(execution('RUNNING'));
    polls.resolves(execution('SUCCEEDED'));

    await runAthenaQuery(new AthenaClient({}), request());
    expect(sleeps).toHaveLength(13);
    expect(Math.max(...sleeps)).toBe(2_000);
    expect(sleeps.slice(-5)).toEqual([2_000, 2_000, 2_000, 2_000, 2_000]);
  });

  it('reads every page of results and skips only the header row of the first page', async () => {
    const columns: [string, string][] = [['device_id', 'varchar'], ['site', 'varchar']];
    succeedWith(
      resultsPage(columns, [['device_id', 'site'], ['dev-1', 'lab'], ['dev-2', 'lab']], 'page-2'),
      // a data row that happens to look like the header, at the top of a later page
      resultsPage(columns, [['device_id', 'site'], ['dev-3', 'cold-store']]),
    );

    const result = await runAthenaQuery(new AthenaClient({}), request());
    expect(result.columns).toEqual(['device_id', 'site']);
    expect(result.rows).toEqual([
      { device_id: 'dev-1', site: 'lab' },
      { device_id: 'dev-2', site: 'lab' },
      { device_id: 'device_id', site: 'site' },
      { device_id: 'dev-3', site: 'cold-store' },
    ]);
    expect(inputs(athena.commandCalls(GetQueryResultsCommand))).toEqual([
      { QueryExecutionId: ID, MaxResults: 1000 },
      { QueryExecutionId: ID, MaxResults: 1000, NextToken: 'page-2' },
    ]);
  });

  it('keeps the first row when it is data, as in DDL results without a header', async () => {
    succeedWith(resultsPage([['tab_name', 'varchar']], [['device_logs'], ['device_logs_quarantine']]));
    const result = await runAthenaQuery(new AthenaClient({}), request({ sql: 'SHOW TABLES' }));
    expect(result.rows).toEqual([{ tab_name: 'device_logs' }, { tab_name: 'device_logs_quarantine' }]);
  });

  it('converts values by the column types, with NULL for a missing value', async () => {
    const columns: [string, string][] = [
      ['n', 'integer'], ['offset', 'bigint'], ['huge', 'bigint'], ['temp', 'double'], ['pct', 'decimal'],
      ['ok', 'boolean'], ['site', 'varchar'], ['at', 'timestamp'], ['dt', 'date'],
    ];
    succeedWith(
      resultsPage(columns, [
        columns.map(([name]) => name),
        ['7', '9007199254740991', '9007199254740993', '-3.25', '12.50', 'true', '', '2026-11-22 02:04:02.448', '2026-11-22'],
        [undefined, undefined, undefined, undefined, undefined, 'false', undefined, undefined, undefined],
      ]),
    );

    const { rows } = await runAthenaQuery(new AthenaClient({}), request());
    expect(rows).toEqual([
      { n: 7, offset: 9_007_199_254_740_991, huge: '9007199254740993', temp: -3.25, pct: 12.5, ok: true, site: '', at: '2026-11-22 02:04:02.448', dt: '2026-11-22' },
      { n: null, offset: null, huge: null, temp: null, pct: null, ok: false, site: null, at: null, dt: null },
    ]);
  });

  it('reports the data scanned and what Athena bills for it', async () => {
    succeedWith(resultsPage(SITE_COLUMNS, [['site', 'readings']]));
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED', { scanned: 50 * MiB + 1 }));

    const result = await runAthenaQuery(new AthenaClient({}), request());
    expect(result.dataScannedBytes).toBe(50 * MiB + 1);
    expect(result.costUsd).toBeCloseTo((51 * MiB * 5) / TiB, 12);
  });

  it('fails with Athena\'s reason when the query fails, and reads no results', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolvesOnce(execution('RUNNING')).resolves(execution('FAILED', { reason: "COLUMN_NOT_FOUND: line 1:8: Column 'sitee' cannot be resolved" }));

    const failure = await runAthenaQuery(new AthenaClient({}), request()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AthenaQueryFailedError);
    expect(failure).toMatchObject({ executionId: ID, state: 'FAILED', reason: "COLUMN_NOT_FOUND: line 1:8: Column 'sitee' cannot be resolved" });
    expect((failure as Error).message).toMatch(/failed: COLUMN_NOT_FOUND.*fix the query/);
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('says how to scan less when the workgroup cancels a query over its scan limit', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(execution('CANCELLED', { reason: 'Query cancelled! : Bytes scanned limit was exceeded' }));

    await expect(runAthenaQuery(new AthenaClient({}), request())).rejects.toThrow(/was cancelled: .*Bytes scanned limit.*filter on dt and hour.*athenaBytesScannedCutoffMB/);
  });

  it.each([
    {
      refusal: 'an unknown workgroup',
      error: () => new InvalidRequestException({ message: 'WorkGroup nope is not found.', $metadata: { httpStatusCode: 400 } }),
      says: /^Athena workgroup "nope" does not exist .*npx cdk deploy.*--workgroup/,
    },
    {
      refusal: 'missing credentials',
      error: () => Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      says: /^no AWS credentials found .*aws sso login.*AWS_PROFILE/,
    },
    { refusal: 'a missing region', error: () => new Error('Region is missing'), says: /^no AWS region set: set AWS_REGION/ },
    {
      refusal: 'denied access',
      error: () =>
        new AthenaServiceException({
          name: 'AccessDeniedException',
          message: 'User: arn:aws:iam::1:user/x is not authorized\nto perform: athena:StartQueryExecution',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        }),
      says: /^AWS refused the request \(AccessDeniedException: User: .* is not authorized to perform: athena:StartQueryExecution\): refresh your credentials/,
    },
  ])('explains $refusal in one line with what to do', async ({ error, says }) => {
    athena.on(StartQueryExecutionCommand).rejects(error());
    const failure = await runAthenaQuery(new AthenaClient({}), request({ workgroup: 'nope' })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AthenaAccessError);
    expect((failure as Error).message).toMatch(says);
    expect((failure as Error).message).not.toContain('\n');
  });

  it('passes errors that are not from AWS on unchanged', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    athena.on(StartQueryExecutionCommand).rejects(bug);
    await expect(runAthenaQuery(new AthenaClient({}), request())).rejects.toBe(bug);
  });
});

describe('athenaCostUsd', () => {
  it.each([
    { scanned: 0, billedMiB: 10 },
    { scanned: 1, billedMiB: 10 },
    { scanned: 10 * MiB, billedMiB: 10 },
    { scanned: 10 * MiB + 1, billedMiB: 11 },
    { scanned: 1_234_567_890, billedMiB: 1178 },
  ])('bills $scanned bytes scanned as $billedMiB MB', ({ scanned, billedMiB }) => {
    expect(athenaCostUsd(scanned)).toBeCloseTo((billedMiB * MiB * 5) / TiB, 15);
  });

  it('charges $5 for a terabyte', () => {
    expect(athenaCostUsd(TiB)).toBe(5);
  });
});
