import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';
import type { TopicRecord } from '../../lambdas/ports/topic.ts';
import { partitionKeys } from '../../lambdas/core/lake-layout.ts';
import { namedQuery } from '../../lambdas/core/queries.ts';
import { trinoType } from '../../lambdas/core/schema.ts';
import { tableColumns } from '../../lambdas/core/table-declaration.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout } from '../../src/local/data-dir.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { runLocal, type LocalRunSummary } from '../../src/local/runner.ts';
import { queryTrino, TrinoQueryError } from '../../tools/trino/client.ts';
import { tempDir } from '../helpers/lake.ts';
import { DECLARED, DEVICE_LOGS } from '../helpers/tables.ts';
import { resourcesOf, synthStack } from '../helpers/synth.ts';
import { columnOf, expectSameResult, fromDuckDb, fromTrino, withoutColumn, type Comparable } from './compare.ts';
import { declareLake } from './lake-tables.ts';

// 150 simulated minutes from 22:40 UTC cross midnight: two dates, five hours, with late events,
// anomalies, failed sensors and quarantined records.
const START = Date.UTC(2026, 2, 1, 22, 40);

const { template } = synthStack();
const glueTables = resourcesOf(template, 'AWS::Glue::Table').map(([, table]) => table.Properties.TableInput);
/** The named queries as Athena gets them: the deployed `AWS::Athena::NamedQuery` resources. */
const athenaQueries = resourcesOf(template, 'AWS::Athena::NamedQuery').map(([, query]) => query.Properties as { Name: string; QueryString: string; Database: string });

/** Columns of named queries that depend on when they run (`current_timestamp`): the age in seconds, at query time, of another column's timestamp. */
const CLOCK_COLUMNS: Record<string, { readonly age: string; readonly of: string }> = {
  ingestion_freshness: { age: 'newest_record_age_s', of: 'newest_record' },
};

/** Typical ad-hoc queries: partition filters, time ranges with timestamp literals, aggregations, window functions, CTEs and joins, over both tables. */
const AD_HOC_QUERIES = [
  {
    name: 'one hour, filtered on its partition',
    sql: `SELECT count(*) AS readings, count(DISTINCT device_id) AS devices, min(event_time) AS first_reading, max(event_time) AS last_reading,
       min(temperature_c) AS min_temperature_c, max(humidity_pct) AS max_humidity_pct
FROM device_logs WHERE dt = '2026-03-02' AND hour = 0`,
  },
  {
    name: 'readings in a time range given with timestamp literals',
    sql: `SELECT device_id, event_time, seq, temperature_c, status
FROM device_logs
WHERE event_time >= TIMESTAMP '2026-03-01 23:58:30' AND event_time < TIMESTAMP '2026-03-02 00:01:30.500'
ORDER BY event_time, device_id, seq`,
  },
  {
    name: 'hours of a day range, with a filter on hour',
    sql: `SELECT dt, hour, count(*) AS readings, sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors,
       min(event_time) AS first_reading, max(kafka_timestamp) AS newest_record
FROM device_logs
WHERE dt BETWEEN '2026-03-01' AND '2026-03-02' AND hour IN (23, 0, 1)
GROUP BY dt, hour
ORDER BY dt, hour`,
  },
  {
    name: 'hourly buckets of event time',
    sql: `SELECT date_trunc('hour', event_time) AS hour_start, count(*) AS readings, count(temperature_c) AS with_temperature
FROM device_logs
GROUP BY date_trunc('hour', event_time)
ORDER BY hour_start`,
  },
  {
    name: 'hottest readings of a day, NULLs last as both engines sort them by default',
    sql: `SELECT device_id, event_time, temperature_c
FROM device_logs
WHERE dt = '2026-03-02'
ORDER BY temperature_c DESC, kafka_partition, kafka_offset
LIMIT 25`,
  },
  {
    name: 'change between consecutive readings of a device (window function)',
    sql: `SELECT device_id, event_time, temperature_c,
       round(temperature_c - lag(temperature_c) OVER (PARTITION BY device_id ORDER BY event_time, seq), 2) AS change_c
FROM device_logs
WHERE dt = '2026-03-01' AND hour = 23
ORDER BY abs(change_c) DESC NULLS LAST, device_id, event_time
LIMIT 25`,
  },
  {
    name: 'hottest device of each site per day (CTEs, window function, join)',
    sql: `WITH daily AS (
  SELECT site, device_id, dt, max(temperature_c) AS max_temperature_c
  FROM device_logs
  GROUP BY site, device_id, dt
), ranked AS (
  SELECT site, device_id, dt, max_temperature_c, rank() OVER (PARTITION BY site, dt ORDER BY max_temperature_c DESC) AS place
  FROM daily
)
SELECT r.site, r.dt, r.device_id, d.device_name, r.max_temperature_c
FROM ranked AS r
JOIN (SELECT DISTINCT device_id, device_name FROM device_logs) AS d ON d.device_id = r.device_id
WHERE r.place = 1
ORDER BY r.site, r.dt, r.device_id`,
  },
  {
    name: 'every offset once, in the lake or in quarantine (both tables)',
    sql: `SELECT kafka_partition, count(*) AS records, count(DISTINCT kafka_offset) AS distinct_offsets,
       min(kafka_offset) AS first_offset, max(kafka_offset) AS last_offset
FROM (
  SELECT kafka_partition, kafka_offset FROM device_logs
  UNION ALL
  SELECT kafka_partition, kafka_offset FROM device_logs_quarantine
) AS seen
GROUP BY kafka_partition
ORDER BY kafka_partition`,
  },
  {
    name: 'quarantined records per day and reason',
    sql: `SELECT dt, reason, count(*) AS records, min(kafka_timestamp) AS first_seen
FROM device_logs_quarantine
GROUP BY dt, reason
ORDER BY dt, reason`,
  },
];

describe('the Athena SQL on Trino', () => {
  const dir = tempDir();
  const trino = inject('trino');
  const session = { url: trino.url, catalog: trino.catalog, schema: DEFAULTS.glueDatabase };
  let summary: LocalRunSummary;
  let lake: DuckDbLake;

  const onTrino = async (sql: string) => fromTrino(await queryTrino(session, sql));

  beforeAll(async () => {
    summary = await runLocal({ dataDir: dir.path, minutes: 150, devices: 40, seed: 7, codec: 'snappy', start: START });
    const { lakeDir } = dataDirLayout(dir.path);
    await declareLake(session, lakeDir, DECLARED.tables);
    lake = await DuckDbLake.open(lakeDir, DECLARED.tables);
  });

  afterAll(() => {
    lake?.close();
    dir.remove();
  });

  it('fails a statement Trino rejects with Trino’s own message', async () => {
    const error = await queryTrino(session, 'SELECT device_id FROM device_logs ORDER').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrinoQueryError);
    expect((error as Error).message).toMatch(/^SYNTAX_ERROR: line 1:\d+: mismatched input '<EOF>'/);
  });

  describe('Glue tables declared on Trino', () => {
    it('have the Glue tables’ columns, Hive types and partition keys', async () => {
      const glue = (columns: { Name: string; Type: string }[]) => columns.map((c) => [c.Name, c.Type]);
      const hive = (columns: { name: string; type: string }[]) => columns.map((c) => [c.name, c.type]);
      for (const table of glueTables) {
        const stored = JSON.parse(await readFile(join(trino.metastoreDir, DEFAULTS.glueDatabase, table.Name, '.trinoSchema'), 'utf8'));
        expect(hive(stored.dataColumns)).toEqual(glue(table.StorageDescriptor.Columns));
        expect(hive(stored.partitionColumns)).toEqual(glue(table.PartitionKeys));
      }
    });

    it('read every Parquet column as the type Athena gives its Glue type', async () => {
      const declared = [...tableColumns(DEVICE_LOGS), ...partitionKeys(DEVICE_LOGS.partitionBy)].map((c) => [c.name, trinoType(c)]);
      const { rows } = await queryTrino(session, `DESCRIBE ${DEVICE_LOGS.name}`);
      expect(rows.map(([name, type]) => [name, type])).toEqual(declared);
      const { columns } = await queryTrino(session, `SELECT * FROM ${DEVICE_LOGS.name} LIMIT 1`);
      expect(columns.map((c) => [c.name, c.type])).toEqual(declared);
    });

    it('read every row and column of the lake as DuckDB does', async () => {
      const sql = `SELECT * FROM ${DEVICE_LOGS.name} ORDER BY kafka_partition, kafka_offset`;
      const trinoRows = await onTrino(sql);
      expect(trinoRows.rows).toHaveLength(summary.lakeRows);
      expectSameResult(trinoRows, await fromDuckDb(lake, sql));
    });

    it('read event_time and kafka_timestamp as the epoch milliseconds of the source records, with no time-zone shift', async () => {
      const log = await LocalLog.open({ dir: dataDirLayout(dir.path).topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
      const source = new Map<string, TopicRecord>();
      try {
        for (const { partition, highWatermark } of await log.offsets()) {
          for await (const batch of log.read(partition, 0, highWatermark)) {
            for (const record of batch.records) source.set(`${partition}/${record.offset}`, record);
          }
        }
      } finally {
        await log.close();
      }
      const { rows } = await onTrino(`SELECT kafka_partition, kafka_offset, event_time, kafka_timestamp FROM ${DEVICE_LOGS.name} ORDER BY kafka_partition, kafka_offset`);
      expect(rows).toHaveLength(summary.lakeRows);
      expect(rows).toEqual(
        rows.map(([partition, offset]) => {
          const record = source.get(`${partition}/${offset}`)!;
          const event = JSON.parse(new TextDecoder().decode(record.value)) as { event_time: string };
          return [partition, offset, Date.parse(event.event_time), record.timestamp];
        }),
      );
    });

    it('put every row under the partition of its event time', async () => {
      const { rows } = await onTrino(`SELECT count(*), count(*) FILTER (WHERE format_datetime(event_time, 'yyyy-MM-dd') = dt AND hour(event_time) = hour) FROM ${DEVICE_LOGS.name}`);
      expect(rows).toEqual([[summary.lakeRows, summary.lakeRows]]);
    });

    it('read the quarantine NDJSON as DuckDB does', async () => {
      const sql = `SELECT * FROM ${DEVICE_LOGS.name}_quarantine ORDER BY kafka_partition, kafka_offset`;
      const trinoRows = await onTrino(sql);
      expect(summary.quarantined).toBeGreaterThan(0);
      expect(trinoRows.rows).toHaveLength(summary.quarantined);
      expectSameResult(trinoRows, await fromDuckDb(lake, sql));
    });
  });

  describe('named queries', () => {
    it('bounds the clock-dependent column of every query that reads current_timestamp', () => {
      expect(DECLARED.queries.filter((q) => /current_timestamp/i.test(q.sql)).map((q) => q.name)).toEqual(Object.keys(CLOCK_COLUMNS));
    });

    it.each(athenaQueries.map((query) => [query.Name, query] as const))('%s returns on Trino what `streamlake query --named` returns on DuckDB', async (name, query) => {
      const before = Date.now();
      let onAthena = fromTrino(await queryTrino({ ...session, schema: query.Database }, query.QueryString));
      let local = await fromDuckDb(lake, namedQuery(DECLARED.queries, name).sql);
      const after = Date.now();
      expect(local.rows.length).toBeGreaterThan(0);
      const clock = CLOCK_COLUMNS[name];
      if (clock) {
        for (const result of [onAthena, local]) expectAgesAt(result, clock, before, after);
        [onAthena, local] = [withoutColumn(onAthena, clock.age), withoutColumn(local, clock.age)];
      }
      expectSameResult(onAthena, local, { roundingTies: true });
    });
  });

  describe('ad-hoc queries', () => {
    it.each(AD_HOC_QUERIES.map((query) => [query.name, query.sql] as const))('%s: the same rows on Trino and DuckDB', async (_, sql) => {
      const local = await fromDuckDb(lake, sql);
      expect(local.rows.length).toBeGreaterThan(0);
      expectSameResult(await onTrino(sql), local, { roundingTies: true });
    });
  });
});

/** Expects each row's `age` column to be the age in whole seconds of its `of` timestamp at a moment between `before` and `after`. */
function expectAgesAt(result: Comparable, clock: { readonly age: string; readonly of: string }, before: number, after: number): void {
  const ages = columnOf(result, clock.age) as number[];
  columnOf(result, clock.of).forEach((timestamp, i) => {
    expect(ages[i]).toBeGreaterThanOrEqual(Math.floor((before - (timestamp as number)) / 1000) - 1);
    expect(ages[i]).toBeLessThanOrEqual(Math.ceil((after - (timestamp as number)) / 1000) + 1);
  });
}
