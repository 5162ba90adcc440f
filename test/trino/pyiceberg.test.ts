import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetsOf, SUMMARY, type Snapshot } from '../../lambdas/core/iceberg-metadata.ts';
import { tableColumns } from '../../lambdas/core/table-declaration.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { pythonTools } from '../../tools/python/venv.ts';
import { run } from '../../tools/jvm.ts';
import { tempDir } from '../helpers/lake.ts';
import { DEVICE_LOGS } from '../helpers/tables.ts';
import { expectSameResult, fromDuckDb, type Comparable } from './compare.ts';
import { deviceLogsLakes, type DeviceLogsLakes } from './iceberg-lakes.ts';

const READER = fileURLToPath(new URL('pyiceberg_read.py', import.meta.url));

/** What test/trino/pyiceberg_read.py prints. */
interface PyIcebergRead {
  /** The data files a scan plans to read: all of them, and for `kafka_offset = n` and `device_id = d`, by `n` and `d`. */
  readonly planned: { readonly all: string[]; readonly kafka_offset: Record<string, string[]>; readonly device_id: Record<string, string[]> };
  /** Rows per hour of event time (hours since 1970), each hour scanned with a filter on the event time alone. */
  readonly hours: Record<string, number>;
  readonly columns: string[];
  readonly types: string[];
  readonly rows: unknown[][];
  readonly snapshots: {
    readonly id: string;
    readonly parent: string | null;
    readonly sequence_number: number;
    readonly timestamp_ms: number;
    readonly operation: string;
    readonly summary: Record<string, string>;
    readonly rows: number;
    readonly duplicates: number;
    readonly highest: Record<string, number>;
  }[];
}

/**
 * pyiceberg (from PyPI, in the project's virtual environment) on the Iceberg table the pipeline
 * writes: it loads the table from its metadata file alone, scans the same rows DuckDB reads from
 * the Hive-Parquet table of the same records, and lists every commit with its Kafka offsets.
 */
describe('Iceberg tables read by pyiceberg', () => {
  const dir = tempDir();
  let lakes: DeviceLogsLakes;
  let snapshots: readonly Snapshot[];
  let read: PyIcebergRead;

  beforeAll(async () => {
    const [tools, built] = await Promise.all([pythonTools(), deviceLogsLakes(dir.path)]);
    lakes = built;
    const loaded = (await lakes.table.load())!;
    snapshots = loaded.metadata.snapshots;
    if (tools.installMs > 0) console.log(`pyiceberg environment made in ${tools.installMs} ms`);
    const result = await run(tools.python, [READER, loaded.entry.metadataLocation]);
    expect(result.code, result.output).toBe(0);
    read = JSON.parse(result.output) as PyIcebergRead;
  });

  afterAll(() => dir.remove());

  it('scans, from the metadata file alone, the rows DuckDB reads from the Hive-Parquet table of the same records, row for row', async () => {
    const columns = tableColumns(DEVICE_LOGS).map((c) => c.name);
    const lake = await DuckDbLake.open(lakes.hiveLakeDir, [DEVICE_LOGS]);
    let expected: Comparable;
    try {
      expected = await fromDuckDb(lake, `SELECT ${columns.join(', ')} FROM ${DEVICE_LOGS.name} ORDER BY kafka_partition, kafka_offset`);
    } finally {
      lake.close();
    }
    expect(read.columns).toEqual(columns);
    expect(read.rows).toHaveLength(lakes.summary.lakeRows);
    expectSameResult({ columns: read.columns, kinds: read.types, rows: read.rows }, expected);
  });

  it('prunes by the hidden partitions: a filter on the event time alone finds each hour’s rows of the Hive-Parquet table', async () => {
    const lake = await DuckDbLake.open(lakes.hiveLakeDir, [DEVICE_LOGS]);
    try {
      const { rows } = await lake.query(`SELECT dt, hour, count(*) AS n FROM ${DEVICE_LOGS.name} GROUP BY dt, hour ORDER BY dt, hour`);
      expect(read.hours).toEqual(Object.fromEntries(rows.map((r) => [String(Date.parse(`${String(r.dt)}T00:00:00Z`) / 3_600_000 + Number(r.hour)), r.n])));
    } finally {
      lake.close();
    }
  });

  it('plans to read only the files whose column bounds admit a filter on a column that is no partition', async () => {
    const duckdb = await DuckDbLake.open(dir.path, []);
    const held = new Map<string, { low: number; high: number; devices: string[] }>();
    try {
      for (const path of read.planned.all) {
        const [row] = (await duckdb.query(`SELECT min(kafka_offset) AS low, max(kafka_offset) AS high, string_agg(DISTINCT device_id, ',') AS devices FROM read_parquet('${fileURLToPath(path)}')`)).rows;
        held.set(path, { low: Number(row!.low), high: Number(row!.high), devices: String(row!.devices).split(',') });
      }
    } finally {
      duckdb.close();
    }
    expect(Object.keys(read.planned.kafka_offset).length).toBeGreaterThan(10);
    for (const [offset, files] of Object.entries(read.planned.kafka_offset)) {
      // Exactly the files whose offsets span it: their bounds are their rows' min and max.
      expect(files, `kafka_offset = ${offset}`).toEqual(read.planned.all.filter((path) => held.get(path)!.low <= Number(offset) && Number(offset) <= held.get(path)!.high));
      expect(files.length, `kafka_offset = ${offset}`).toBeLessThan(read.planned.all.length);
    }
    const { 'no-such-device': none, ...devices } = read.planned.device_id;
    expect(none).toEqual([]);
    for (const [device, files] of Object.entries(devices)) expect(files, `device_id = ${device}`).toEqual(expect.arrayContaining(read.planned.all.filter((path) => held.get(path)!.devices.includes(device))));
  });

  it('lists every commit, each with the compactor run and the Kafka offsets its summary holds', () => {
    expect(read.snapshots.map(({ id, parent, sequence_number, timestamp_ms, operation, summary }) => ({ id, parent, sequence_number, timestamp_ms, operation, summary }))).toEqual(
      snapshots.map((s) => {
        const { operation, ...summary } = s.summary;
        return {
          id: String(s['snapshot-id']), parent: s['parent-snapshot-id'] === undefined ? null : String(s['parent-snapshot-id']), sequence_number: s['sequence-number'],
          timestamp_ms: s['timestamp-ms'], operation, summary,
        };
      }),
    );
    // One append a committed run (a crashed attempt and a run joined by a racing compactor add none), one replace for the optimize.
    expect(read.snapshots.filter((s) => s.operation === 'append').map((s) => Number(s.summary[SUMMARY.sequence]))).toEqual([...new Set(lakes.runs.map((r) => r.sequence))]);
    expect(read.snapshots.filter((s) => s.operation === 'replace')).toHaveLength(1);
    for (const snapshot of read.snapshots) {
      expect(Object.keys(JSON.parse(snapshot.summary[SUMMARY.offsets]!)).length, `snapshot ${snapshot.id}`).toBeGreaterThan(0);
      expect(Number(snapshot.summary[SUMMARY.sequence]), `snapshot ${snapshot.id}`).toBeGreaterThan(0);
    }
    expect(JSON.parse(read.snapshots.at(-1)!.summary[SUMMARY.offsets]!)).toEqual(lakes.highWatermarks);
  });

  it('scans each snapshot to the rows its summary counts, each offset once and none past its offsets', () => {
    for (const [i, snapshot] of read.snapshots.entries()) {
      const offsets = offsetsOf(snapshots[i]!);
      expect(snapshot.rows, `snapshot ${snapshot.id}`).toBe(Number(snapshot.summary['total-records']));
      expect(snapshot.duplicates, `snapshot ${snapshot.id}`).toBe(0);
      for (const [partition, highest] of Object.entries(snapshot.highest)) expect(highest, `snapshot ${snapshot.id}, partition ${partition}`).toBeLessThan(offsets[partition]!);
    }
  });
});
