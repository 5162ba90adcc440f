import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { namedQuery } from '../../../lambdas/core/queries.ts';
import { DECLARED } from '../../helpers/tables.ts';
import { streamlake } from '../../helpers/cli.ts';
import { startStreamlake } from '../../helpers/cli-process.ts';
import { startFakeAthena, type AthenaCall, type AthenaReply, type FakeAthena } from '../../helpers/fake-athena.ts';
import { tempDir } from '../../helpers/lake.ts';

const SITE_SUMMARY_PAGE = {
  ResultSet: {
    ResultSetMetadata: {
      ColumnInfo: [
        { Name: 'site', Type: 'varchar' },
        { Name: 'devices', Type: 'bigint' },
        { Name: 'avg_temperature_c', Type: 'double' },
        { Name: 'not_ok_pct', Type: 'decimal' },
      ],
    },
    Rows: [
      { Data: [{ VarCharValue: 'site' }, { VarCharValue: 'devices' }, { VarCharValue: 'avg_temperature_c' }, { VarCharValue: 'not_ok_pct' }] },
      { Data: [{ VarCharValue: 'cold-store' }, { VarCharValue: '12' }, { VarCharValue: '3.5' }, { VarCharValue: '1.25' }] },
      { Data: [{ VarCharValue: 'lab' }, { VarCharValue: '3' }, {}, { VarCharValue: '0.00' }] },
    ],
  },
};

/** Athena as the tests need it: workgroup `nope` does not exist, SQL mentioning `sitee` fails, anything else succeeds after one RUNNING poll. */
function athenaReply(call: AthenaCall, calls: readonly AthenaCall[]): AthenaReply {
  const id = call.input.QueryExecutionId;
  switch (call.operation) {
    case 'StartQueryExecution':
      if (call.input.WorkGroup === 'nope') return { status: 400, body: { __type: 'InvalidRequestException', Message: 'WorkGroup nope is not found.', AthenaErrorCode: 'INVALID_INPUT' } };
      if (call.input.WorkGroup === 'slow') return { body: { QueryExecutionId: 'q-slow' } };
      return { body: { QueryExecutionId: String(call.input.QueryString).includes('sitee') ? 'q-failed' : 'q-ok' } };
    case 'GetQueryExecution': {
      // Runs until it is stopped.
      if (id === 'q-slow') return { body: { QueryExecution: { QueryExecutionId: id, Status: { State: calls.some((c) => c.operation === 'StopQueryExecution') ? 'CANCELLED' : 'RUNNING' } } } };
      if (id === 'q-failed') {
        return { body: { QueryExecution: { QueryExecutionId: id, Status: { State: 'FAILED', StateChangeReason: "COLUMN_NOT_FOUND: line 1:8: Column 'sitee' cannot be resolved" } } } };
      }
      const polls = calls.filter((c) => c.operation === 'GetQueryExecution').length;
      const state = polls === 1 ? 'RUNNING' : 'SUCCEEDED';
      return { body: { QueryExecution: { QueryExecutionId: id, Status: { State: state }, Statistics: { DataScannedInBytes: 1_234_567 } } } };
    }
    case 'GetQueryResults':
      return { body: SITE_SUMMARY_PAGE };
    case 'StopQueryExecution':
      return { body: {} };
    default:
      return { status: 400, body: { __type: 'InvalidRequestException', Message: `unexpected ${call.operation}` } };
  }
}

describe('streamlake query --athena', () => {
  const dir = tempDir();
  let athena: FakeAthena;

  beforeAll(async () => {
    athena = await startFakeAthena(athenaReply);
  });

  beforeEach(() => {
    athena.calls.length = 0;
  });

  afterAll(async () => {
    await athena.close();
    dir.remove();
  });

  /** An environment with no AWS settings of the developer's own, so nothing here can reach AWS. */
  function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: dir.path,
      AWS_CONFIG_FILE: join(dir.path, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir.path, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extra,
    };
  }

  const signedIn = () => env({ AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_ATHENA: athena.url });
  const run = (args: string[], environment = signedIn()) => streamlake(['query', ...args], { env: environment, cwd: dir.path });
  const started = () => athena.calls.filter((c) => c.operation === 'StartQueryExecution').map((c) => c.input);

  it('runs a named query in the default workgroup and database without a local data directory, then reports the cost', async () => {
    const result = await run(['--athena', '--named', 'site_summary']);

    expect(result.stderr).not.toContain('streamlake:');
    expect(result.code).toBe(0);
    expect(started()).toEqual([
      { QueryString: namedQuery(DECLARED.queries, 'site_summary').sql, WorkGroup: 'streamlake', QueryExecutionContext: { Database: 'streamlake' }, ClientRequestToken: expect.any(String) },
    ]);
    expect(result.stdout.split('\n').slice(0, 4)).toEqual([
      'site        devices  avg_temperature_c  not_ok_pct',
      '----------  -------  -----------------  ----------',
      'cold-store       12                3.5        1.25',
      'lab               3               NULL           0',
    ]);
    const progress = result.stderr.trim().split('\n');
    expect(progress[0]).toMatch(/^Athena query q-ok: running after \d+\.\d s$/);
    expect(progress.at(-1)).toBe('scanned 1.2 MB, cost $0.000048 (Athena bills at least 10 MB per query)');
  });

  it('prints JSON rows and uses the workgroup and database given', async () => {
    const result = await run(['--athena', '--workgroup', 'analytics', '--database', 'lake_db', '--json', 'SELECT * FROM device_logs LIMIT 2']);

    expect(result.code).toBe(0);
    expect(started()).toMatchObject([{ QueryString: 'SELECT * FROM device_logs LIMIT 2', WorkGroup: 'analytics', QueryExecutionContext: { Database: 'lake_db' } }]);
    expect(JSON.parse(result.stdout)).toEqual([
      { site: 'cold-store', devices: 12, avg_temperature_c: 3.5, not_ok_pct: 1.25 },
      { site: 'lab', devices: 3, avg_temperature_c: null, not_ok_pct: 0 },
    ]);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('stops the query on Athena when a %s arrives while it runs, then exits as the signal says', async (signal) => {
    const running = startStreamlake(['query', '--athena', '--workgroup', 'slow', 'SELECT 1'], { env: signedIn(), cwd: dir.path });
    await running.stderrLines(/q-slow: running/, 1);
    running.kill(signal);
    const exit = await running.exit;
    expect(exit.code).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(athena.calls.filter((c) => c.operation === 'StopQueryExecution').map((c) => c.input)).toEqual([{ QueryExecutionId: 'q-slow' }]);
    expect(exit.stderr).toContain('Athena query q-slow was stopped (StopQueryExecution)');
  });

  it("exits 1 with Athena's reason when the query fails", async () => {
    const result = await run(['--athena', 'SELECT sitee FROM device_logs']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      "streamlake: Athena query q-failed failed: COLUMN_NOT_FOUND: line 1:8: Column 'sitee' cannot be resolved; fix the query and run it again",
    );
  });

  it('exits 1 with one line saying what to do when the workgroup does not exist', async () => {
    const result = await run(['--athena', '--workgroup', 'nope', 'SELECT 1']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^streamlake: Athena workgroup "nope" does not exist .*npx cdk deploy/);
  });

  it('exits 1 with one line saying how to sign in when there are no AWS credentials', async () => {
    const result = await run(['--athena', '--named', 'site_summary'], env({ AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_ATHENA: athena.url }));
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^streamlake: no AWS credentials found .*aws sso login/);
    expect(athena.calls).toEqual([]);
  });

  it.each([
    { args: ['--athena', '--named', 'nope'], says: 'no named query "nope"' },
    { args: ['--athena', '--named', 'anomalies', 'SELECT 1'], says: 'pass either SQL or --named' },
    { args: ['--athena'], says: 'pass either SQL or --named' },
    { args: ['--athena', '--data-dir', '.streamlake', 'SELECT 1'], says: '--data-dir names a local lake' },
    { args: ['--workgroup', 'analytics', 'SELECT 1'], says: 'add --athena' },
    { args: ['--database', 'lake_db', 'SELECT 1'], says: 'add --athena' },
  ])('rejects query $args with exit code 2 before calling AWS', async ({ args, says }) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(says);
    expect(athena.calls).toEqual([]);
  });
});
