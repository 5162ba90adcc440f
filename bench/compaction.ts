/**
 * `npm run bench [-- --json] [-- --events N] [-- --nested-events N] [-- --codec zstd]`: the compactor
 * core against DuckDB's native Parquet writer on the same generated records, in one run, for
 * `device_logs` and for a table of nested columns (`nested-table.ts`), plus an end-to-end local
 * run, a selective query's bytes read, the compactor's Lambda bundle size and its cold import time,
 * compaction into an Iceberg table against Hive-Parquet, and `streamlake optimize` against DuckDB
 * merging the same small files (`optimize.ts`).
 * Ratios compare work done in the same run on the same machine; absolute times are noise.
 * `npm run bench -- --capacity [--events N] [--codec zstd] [--json]` runs only the capacity bench
 * (`capacity.ts`): one compactor shard through a real Kafka broker, per core, and the arithmetic
 * to the events/s a deployed compactor sustains.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IcebergTable } from '../lambdas/adapters/iceberg-table.ts';
import { parquetEncoder } from '../lambdas/adapters/parquet-writer.ts';
import { StoreCatalog } from '../lambdas/adapters/store-catalog.ts';
import type { CompactorOptions } from '../lambdas/core/compactor.ts';
import { DeviceFleet, produceMinute } from '../lambdas/demo/device-fleet.ts';
import { loadTables, tableNamed } from '../lambdas/adapters/table-directory.ts';
import { curatedPrefix, quarantinePrefix } from '../lambdas/core/lake-layout.ts';
import type { Codec, ParquetEncoder } from '../lambdas/ports/parquet.ts';
import type { TableFormat } from '../lambdas/ports/table-format.ts';
import { DEFAULTS } from '../lib/config.ts';
import { formatBytes, formatTable } from '../src/cli/table.ts';
import { DuckDbLake } from '../src/local/duckdb-lake.ts';
import { compactorOptions, runLocal } from '../src/local/runner.ts';
import { bundleHandler } from '../tools/lambda-bundle.ts';
import { best, compactAll, duckdbConvert, REPEATS, versusDuckdb, writeLake, writeNdjson } from './harness.ts';
import { MemoryTopic, type MemoryStore } from './memory-ports.ts';
import { benchCapacity, describeCapacity } from './capacity.ts';
import { benchOptimize, describeOptimizeBench } from './optimize.ts';
import { benchNestedTable, nestedTableRows } from './nested-table.ts';

const MINUTE_MS = 60_000;
const START = Date.UTC(2026, 0, 5, 0, 0);
const TABLE = tableNamed(loadTables(join(import.meta.dirname, '..', 'tables')), 'device_logs');

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    events: { type: 'string', default: '1000000' },
    // About ten times the work per record of device_logs, so a fifth of the records.
    'nested-events': { type: 'string', default: '200000' },
    codec: { type: 'string', default: DEFAULTS.codec },
    capacity: { type: 'boolean', default: false },
  },
});
const codec = flags.codec as Codec;
const devices = 1_000;
const minutes = Math.ceil(Number(flags.events) / devices);
const nestedEvents = Number(flags['nested-events']);
if (!Number.isInteger(nestedEvents) || nestedEvents < 1) throw new RangeError(`--nested-events must be a positive integer, got ${flags['nested-events']}`);
const work = mkdtempSync(join(tmpdir(), 'streamlake-bench-'));
const progress = (message: string) => flags.json || process.stderr.write(`${message}\n`);

/** The records the generator Lambda would produce over `minutes`, in a 6-partition topic as the compactor reads them. */
async function generateTopic(): Promise<MemoryTopic> {
  const fleet = new DeviceFleet({ ...DEFAULTS, devices, corruptShare: 0 });
  const topic = new MemoryTopic(DEFAULTS.partitions);
  for (let m = 0; m < minutes; m++) await produceMinute(fleet, topic, START + (m + 1) * MINUTE_MS);
  return topic;
}

/** Peak resident memory while `encoder` and the read loop run, sampled after every batch and file. */
function rssSampler() {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  return { sample, growth: () => peak - baseline };
}

/**
 * Bytes a one-device, one-hour query must read: its partition's footers and the chunks of the
 * columns it names. Fails unless DuckDB reads back all `records` from the compactor's files.
 */
async function selectiveQuery(store: MemoryStore, topic: MemoryTopic, records: number) {
  const lakeDir = join(work, 'lake');
  writeLake(store, TABLE, lakeDir);
  const hourStart = START;
  const [dt, hour] = [new Date(hourStart).toISOString().slice(0, 10), new Date(hourStart).getUTCHours()];
  const columns = ['event_time', 'temperature_c', 'humidity_pct', 'status', 'device_id'];
  const sql = `SELECT event_time, temperature_c, humidity_pct, status FROM ${TABLE.name} WHERE dt = '${dt}' AND hour = ${hour} AND device_id = 'dev-00042' ORDER BY event_time`;
  const lake = await DuckDbLake.open(lakeDir, [TABLE], { threads: 1 });
  try {
    const readBack = Number((await lake.query(`SELECT count(*) AS n FROM ${TABLE.name}`)).rows[0]!.n);
    if (readBack !== records) throw new Error(`DuckDB reads ${readBack} rows from the compactor's ${TABLE.name} files, not the ${records} records produced`);
    const rows = (await lake.query(sql)).rows.length;
    const partitionGlob = join(lakeDir, curatedPrefix(TABLE.name), `dt=${dt}`, `hour=${String(hour).padStart(2, '0')}`, '*.parquet');
    const [read] = (
      await lake.query(`SELECT sum(total_compressed_size) AS chunks FROM parquet_metadata('${partitionGlob}') WHERE path_in_schema IN (${columns.map((c) => `'${c}'`).join(', ')})`)
    ).rows;
    const [footers] = (await lake.query(`SELECT sum(footer_size + 8) AS bytes FROM parquet_file_metadata('${partitionGlob}')`)).rows;
    const ndjsonBytes = [...topic.records()].reduce((sum, r) => {
      const eventTime = Date.parse(JSON.parse(Buffer.from(r.value).toString()).event_time);
      return eventTime >= hourStart && eventTime < hourStart + 3_600_000 ? sum + r.value.byteLength + 1 : sum;
    }, 0);
    return { sql, rows, bytesRead: Number(read!.chunks) + Number(footers!.bytes), ndjsonBytes };
  } finally {
    lake.close();
  }
}

/**
 * The same compaction into an Iceberg table (in-memory store and catalog): records/s against the
 * Hive-Parquet runs of this process, and the time its commits take on their own.
 */
async function benchIceberg(topic: MemoryTopic, options: CompactorOptions, encoder: ParquetEncoder) {
  const icebergTable = { ...options.table, format: 'iceberg' as const };
  let commitMs = 0;
  let commits = 0;
  const timed = (store: MemoryStore): TableFormat => {
    const table = new IcebergTable({ store, catalog: new StoreCatalog(store), lakeUri: 'memory://lake/', clock: { now: () => START } }, icebergTable);
    return {
      timestampUnit: table.timestampUnit,
      dataFileKey: (bucket, stem) => table.dataFileKey(bucket, stem),
      commitRedrive: (run, files) => table.commitRedrive(run, files),
      checkRedriveLedger: (committed) => table.checkRedriveLedger(committed),
      commitRun: async (run, files, offsets) => {
        const started = performance.now();
        await table.commitRun(run, files, offsets);
        commitMs += performance.now() - started;
        commits++;
      },
    };
  };
  const deps = { topic, encoder, clock: { now: () => START } };
  // Alternated, so that whatever else the machine does weighs on both alike.
  const seconds = { hive: Number.POSITIVE_INFINITY, iceberg: Number.POSITIVE_INFINITY };
  for (let i = 1; i <= REPEATS; i++) {
    for (const format of ['hive', 'iceberg'] as const) {
      const started = performance.now();
      await (format === 'hive' ? compactAll(deps, options) : compactAll(deps, { ...options, table: icebergTable }, timed));
      const took = (performance.now() - started) / 1000;
      progress(`  compactor (${format}) ${i}/${REPEATS}: ${took.toFixed(2)} s`);
      seconds[format] = Math.min(seconds[format], took);
    }
  }
  const records = (await topic.offsets()).reduce((sum, p) => sum + p.highWatermark, 0);
  return {
    recordsPerSec: Math.round(records / seconds.iceberg),
    ratioToHive: Number((seconds.hive / seconds.iceberg).toFixed(3)),
    commits: commits / REPEATS,
    commitMsPerRun: Number((commitMs / commits).toFixed(1)),
  };
}

async function endToEnd() {
  const options = { minutes: 60, devices: 500, seed: DEFAULTS.seed, codec, start: START };
  return best('streamlake local', progress, async () => {
    const dataDir = mkdtempSync(join(work, 'local-'));
    const summary = await runLocal({ ...options, dataDir });
    rmSync(dataDir, { recursive: true, force: true });
    return summary.produced;
  });
}

/** The compactor handler bundled as `cdk deploy` bundles it, and the median time a fresh Node process takes to import it. */
async function compactorBundle() {
  const outfile = await bundleHandler('compactor');
  const script = `const t = performance.now(); await import(${JSON.stringify(outfile)}); console.log(performance.now() - t);`;
  const times = Array.from({ length: 7 }, () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`importing the compactor bundle failed: ${child.stderr}`);
    return Number(child.stdout);
  });
  times.sort((a, b) => a - b);
  return { bytes: statSync(outfile).size, coldImportMs: times[Math.floor(times.length / 2)]! };
}

async function main() {
  progress(`generating ${devices * minutes} events (${devices} devices × ${minutes} minutes)…`);
  const topic = await generateTopic();
  const records = (await topic.offsets()).reduce((sum, p) => sum + p.highWatermark, 0);
  const options = compactorOptions(DEFAULTS, TABLE, codec);

  progress('compactor core: record values → Parquet bytes, in memory');
  const memory = rssSampler();
  const encoder = parquetEncoder();
  const sampled: ParquetEncoder = { encode: (batch, c, unit) => { const bytes = encoder.encode(batch, c, unit); memory.sample(); return bytes; } };
  const compactor = await best('compactor', progress, () => compactAll({ topic, encoder: sampled, clock: { now: () => START }, onProgress: memory.sample }, options));
  const store = compactor.result;
  if ((await store.list(quarantinePrefix(TABLE.name))).length > 0) throw new Error('the bench records are all valid, yet some were quarantined');
  const files = await store.list(curatedPrefix(TABLE.name));
  const parquetBytes = files.reduce((sum, o) => sum + o.size, 0);

  progress('DuckDB: read_ndjson → COPY … (FORMAT parquet), threads = 1');
  const ndjson = join(work, 'records.ndjson');
  const ndjsonBytes = writeNdjson(topic, ndjson);
  const duckdb = await best('duckdb', progress, () => duckdbConvert(TABLE, codec, ndjson, join(work, 'duckdb.parquet')));

  progress('compactor core into an Iceberg table (one snapshot commit a run)');
  const iceberg = await benchIceberg(topic, options, encoder);

  const nested = await benchNestedTable(nestedEvents, codec, work, progress);

  const optimize = await benchOptimize({ devices: 1_000, minutes: 180, codec }, progress);

  progress('end-to-end local run');
  const local = await endToEnd();
  progress('selective query');
  const query = await selectiveQuery(store, topic, records);
  progress('compactor Lambda bundle');
  const bundle = await compactorBundle();

  const result = {
    events: records,
    codec,
    ...versusDuckdb(records, compactor.seconds, duckdb.seconds, parquetBytes, duckdb.result),
    ndjsonBytes,
    parquetBytesPerRecord: Number((parquetBytes / records).toFixed(2)),
    ndjsonBytesPerRecord: Number((ndjsonBytes / records).toFixed(2)),
    compactorFiles: files.length,
    compactorPeakRssGrowthBytes: memory.growth(),
    localEventsPerSec: Math.round(local.result / local.seconds),
    selectiveQuery: query,
    compactorBundleBytes: bundle.bytes,
    compactorColdImportMs: Number(bundle.coldImportMs.toFixed(1)),
    iceberg,
    optimize,
    nested,
  };
  rmSync(work, { recursive: true, force: true });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const table = [
    { measure: 'device_logs records', compactor: records, duckdb: records, ratio: '' },
    { measure: 'device_logs records/s', compactor: result.compactorRecordsPerSec, duckdb: result.duckdbRecordsPerSec, ratio: `${result.ratio} (≥ 0.6 wanted)` },
    { measure: `device_logs Parquet bytes (${codec})`, compactor: formatBytes(parquetBytes), duckdb: formatBytes(duckdb.result), ratio: `${result.sizeRatio} (≤ 1.2 wanted)` },
    { measure: 'device_logs bytes/record', compactor: result.parquetBytesPerRecord, duckdb: (duckdb.result / records).toFixed(2), ratio: `vs ${result.ndjsonBytesPerRecord} as NDJSON` },
    { measure: 'device_logs peak RSS growth', compactor: formatBytes(result.compactorPeakRssGrowthBytes), duckdb: '', ratio: '' },
    { measure: 'device_logs records/s into Iceberg', compactor: iceberg.recordsPerSec, duckdb: result.duckdbRecordsPerSec, ratio: `${iceberg.ratioToHive} of Hive-Parquet (≥ 0.9 wanted)` },
    { measure: 'Iceberg commit (manifest, list, metadata, swap)', compactor: `${iceberg.commitMsPerRun} ms/run`, duckdb: '', ratio: `${iceberg.commits} commits` },
    ...nestedTableRows(nested, codec),
  ];
  console.log(formatTable(['measure', 'compactor', 'duckdb', 'ratio'], table));
  console.log();
  console.log('streamlake optimize on an Iceberg table of 1,000 devices × 180 minutes, compacted every 5 minutes:');
  console.log(describeOptimizeBench(optimize));
  console.log();
  console.log(`streamlake local (500 devices × 60 min): ${result.localEventsPerSec} events/s`);
  console.log(`selective query (1 device, 1 hour): ${query.rows} rows, reads ${formatBytes(query.bytesRead)} of Parquet vs ${formatBytes(query.ndjsonBytes)} of NDJSON for that hour (${(query.ndjsonBytes / query.bytesRead).toFixed(1)}× less)`);
  console.log(`compactor Lambda bundle: ${formatBytes(bundle.bytes)}, cold import ${result.compactorColdImportMs} ms (median of 7 fresh processes)`);
}

async function capacity() {
  const result = await benchCapacity({ events: Number(flags.events), codec, progress });
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${describeCapacity(result)}\n`);
}

await (flags.capacity ? capacity() : main());
