import { existsSync } from 'node:fs';
import type { CheckpointState } from '../../lambdas/core/checkpoint.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { PartitionOffsets } from '../../lambdas/ports/topic.ts';
import { DEFAULTS } from '../../lib/config.ts';
import { dataDirLayout } from './data-dir.ts';
import { DuckDbLake } from './duckdb-lake.ts';
import type { StatusThresholds } from './status-thresholds.ts';
import { LocalLake } from './local-lake.ts';
import { handoverOf, layoutShards, readTableCheckpoints, shardLag, sum, type HandoverStatus, type TableCheckpoints } from './shard-status.ts';
import { openTopicReader } from './topics.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** Records left to compact: per partition and in total, and where the figures come from. */
export interface LagStatus {
  /** `live`: the topic's high watermarks now against the checkpoint; `last-run`: as the last run saw them; `unknown`: neither is available. */
  readonly source: 'live' | 'last-run' | 'unknown';
  readonly partitions: Readonly<Record<string, number>>;
  readonly total: number | null;
}

/** One table's health, as `streamlake status` prints it (and `--json` emits it). */
export interface TableStatus {
  readonly table: string;
  /** Sequence of the last committed run; 0 before the first. */
  readonly sequence: number;
  /** ISO instant of the last commit; null before the first, or for a checkpoint written before commits recorded it. */
  readonly lastRunAt: string | null;
  /** Records read, rows written and records quarantined by the last run, when its checkpoint recorded them. */
  readonly lastRun: { readonly records: number; readonly rows: number; readonly quarantined: number } | null;
  /** ISO instant a run was claimed that has not committed yet (a crashed or running compactor); null when none is. */
  readonly pendingSince: string | null;
  readonly pendingSequence: number | null;
  readonly lag: LagStatus;
  /** Total records the last run left behind (by the high watermarks it saw at its start): above 0 when it read all it may read in one run. */
  readonly lagAfterLastRun: number | null;
  /** Newest event time in the lake, ISO; null when the lake holds no row of the table (or, on AWS, it was not read). */
  readonly newestEventTime: string | null;
  /** Quarantined records whose Kafka timestamp falls in the last 24 hours and that no redrive landed since, by reason (null: not read). */
  readonly quarantined24h: Readonly<Record<string, number>> | null;
  /** Fields the declaration does not name that the last run's records carried. */
  readonly unknownFields: readonly string[];
  /**
   * Each shard's own status, when the table's compactor runs in several (`compactorShards`); the
   * table's figures then sum theirs (lag, last runs), its pending claim is the oldest of theirs and
   * its run the highest sequence.
   */
  readonly shards?: readonly ShardStatus[];
  /** Set while the compactors of a new shard count take the partitions over; the lag then counts from where the takeover starts each partition. */
  readonly handover?: HandoverStatus;
}

/** One shard of a table's compactor, as `streamlake status` shows it. */
export type ShardStatus = { readonly shard: number; readonly of: number } & Pick<TableStatus, 'sequence' | 'lastRunAt' | 'lastRun' | 'pendingSince' | 'pendingSequence' | 'lag' | 'lagAfterLastRun'>;

/**
 * The table's status from its checkpoints: {@link statusFromCheckpoint} for one shard; for several,
 * or while a handover is under way, the sum of the layout's shards, each lagging from the furthest
 * offset any generation committed.
 */
export function statusFromShards(table: string, found: TableCheckpoints, live: readonly PartitionOffsets[] | undefined): Omit<TableStatus, 'newestEventTime' | 'quarantined24h'> {
  const handover = handoverOf(found);
  const layout = layoutShards(found);
  if (layout.length === 1 && handover === undefined) return statusFromCheckpoint(table, layout[0]!.state, live);
  const shards = layout.map((s) => ({ shard: s.shard, ...statusFromCheckpoint(table, s.state, undefined), ...shardLag(found, s, live) }));
  const known = <T>(values: readonly (T | null)[]): T[] => values.filter((v): v is T => v !== null);
  const pending = shards.filter((s) => s.pendingSince !== null).sort((a, b) => a.pendingSince!.localeCompare(b.pendingSince!))[0];
  const lastRuns = known(shards.map((s) => s.lastRun));
  const totals = known(shards.map((s) => s.lag.total));
  const sources = new Set(shards.map((s) => s.lag.source));
  const afterLastRun = known(shards.map((s) => s.lagAfterLastRun));
  return {
    table,
    sequence: Math.max(...shards.map((s) => s.sequence)),
    lastRunAt: known(shards.map((s) => s.lastRunAt)).sort().at(-1) ?? null,
    lastRun: lastRuns.length === 0 ? null : { records: sum(lastRuns.map((r) => r.records)), rows: sum(lastRuns.map((r) => r.rows)), quarantined: sum(lastRuns.map((r) => r.quarantined)) },
    pendingSince: pending?.pendingSince ?? null,
    pendingSequence: pending?.pendingSequence ?? null,
    lag: {
      source: sources.size === 1 ? [...sources][0]! : sources.has('unknown') ? 'unknown' : 'last-run',
      partitions: Object.fromEntries(shards.flatMap((s) => Object.entries(s.lag.partitions)).sort(([a], [b]) => Number(a) - Number(b))),
      total: totals.length === shards.length ? sum(totals) : null,
    },
    lagAfterLastRun: afterLastRun.length === 0 ? null : sum(afterLastRun),
    unknownFields: [...new Set(shards.flatMap((s) => s.unknownFields))].sort(),
    shards: shards.map(({ shard, sequence, lastRunAt, lastRun, pendingSince, pendingSequence, lag, lagAfterLastRun }) => ({
      shard: shard.index, of: shard.count, sequence, lastRunAt, lastRun, pendingSince, pendingSequence, lag, lagAfterLastRun,
    })),
    ...(handover && { handover }),
  };
}

/** The table's status from its checkpoint and, when known, the topic's offsets now. */
export function statusFromCheckpoint(table: string, state: CheckpointState, live: readonly PartitionOffsets[] | undefined): Omit<TableStatus, 'newestEventTime' | 'quarantined24h'> {
  const last = state.lastRun;
  let lag: LagStatus;
  if (live !== undefined) {
    const partitions = Object.fromEntries(live.map((p) => [String(p.partition), Math.max(0, p.highWatermark - (state.offsets[p.partition] ?? p.earliest))]));
    lag = { source: 'live', partitions, total: sum(Object.values(partitions)) };
  } else if (last !== undefined) {
    lag = { source: 'last-run', partitions: last.lag, total: sum(Object.values(last.lag)) };
  } else {
    lag = { source: 'unknown', partitions: {}, total: null };
  }
  return {
    table,
    sequence: state.sequence,
    lastRunAt: last === undefined ? null : new Date(last.committedAt).toISOString(),
    lastRun: last === undefined ? null : { records: last.records, rows: last.rows, quarantined: last.quarantined },
    pendingSince: state.pending === null ? null : new Date(state.pending.startedAt).toISOString(),
    pendingSequence: state.pending?.sequence ?? null,
    lag,
    lagAfterLastRun: last === undefined ? null : sum(Object.values(last.lag)),
    unknownFields: last?.unknownFields ?? [],
  };
}

/** Why the tables need attention, one sentence each; empty when they are healthy. */
export function attentionReasons(tables: readonly TableStatus[], thresholds: StatusThresholds, now: number): string[] {
  const reasons: string[] = [];
  for (const t of tables) {
    // A stuck claim in any shard is the table's: each is named.
    for (const claim of t.shards ?? [{ ...t, shard: undefined }]) {
      if (claim.pendingSince === null || !isStuck(claim.pendingSince, thresholds, now)) continue;
      const which = claim.shard === undefined ? '' : ` of shard ${claim.shard}`;
      reasons.push(
        `${t.table}: run ${claim.pendingSequence}${which} was claimed ${formatAge(now - Date.parse(claim.pendingSince))} ago and has not committed (more than ${thresholds.stuckAfterMinutes} min): ` +
          `the compactor${which} crashed or is stuck; its next run finishes the claim, so look at its logs`,
      );
    }
    for (const claim of t.handover?.claims ?? []) {
      if (!isStuck(claim.pendingSince, thresholds, now)) continue;
      reasons.push(
        `${t.table}: run ${claim.pendingSequence} of shard ${claim.shard} of ${claim.of} was claimed ${formatAge(now - Date.parse(claim.pendingSince))} ago and has not committed (more than ${thresholds.stuckAfterMinutes} min): ` +
          `the handover to ${t.handover!.to} shards waits for it, and each invocation of the new compactors tries to finish it first; look at their logs ` +
          '(a claim made under a declaration that changed since cannot finish: deploy the declaration it was claimed under until it commits)',
      );
    }
    if (t.lag.total !== null && t.lag.total > thresholds.maxLag) {
      reasons.push(`${t.table}: ${t.lag.total} records not compacted (${t.lag.source} lag), more than ${thresholds.maxLag}: the compactor falls behind`);
    } else if (t.lag.source === 'live' && t.lag.total !== null && t.lagAfterLastRun !== null && t.lagAfterLastRun > 0 && t.lag.total > t.lagAfterLastRun) {
      reasons.push(
        `${t.table}: lag is growing: the last run left ${t.lagAfterLastRun} records behind and ${t.lag.total} are not compacted now: ` +
          'the topic gets more records per period than one run may read (maxRecordsPerRun), or runs fail',
      );
    }
    if (t.newestEventTime !== null) {
      const age = now - Date.parse(t.newestEventTime);
      if (age > thresholds.staleAfterMinutes * MINUTE_MS) {
        reasons.push(`${t.table}: the newest event in the lake is ${formatAge(age)} old (more than ${thresholds.staleAfterMinutes} min): no fresh data is arriving or being compacted`);
      }
    }
  }
  return reasons;
}

/** Whether a claim made at `pendingSince` (ISO) is older than a run may take: its compactor crashed or is stuck. */
export function isStuck(pendingSince: string, thresholds: StatusThresholds, now: number): boolean {
  return (now - Date.parse(pendingSince)) / MINUTE_MS > thresholds.stuckAfterMinutes;
}

/** 90_000 → "1m 30s"; 7_200_000 → "2h 0m"; 2 days → "2d 0h". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Where the local status reads from. */
export interface LocalStatusSource {
  readonly dataDir: string;
  /** Bootstrap brokers when the lake was built from Apache Kafka: live lag then comes from that cluster. */
  readonly kafka?: readonly string[];
}

/**
 * The status of each declared table in the local lake: its checkpoint, live lag from the topic
 * (the embedded log, or `--kafka`), the newest event time and the last day's quarantine from DuckDB.
 */
export async function localStatus(tables: readonly TableSpec[], source: LocalStatusSource, now: number): Promise<TableStatus[]> {
  const layout = dataDirLayout(source.dataDir);
  const lake = new LocalLake(layout.lakeDir);
  const resolved = tables.map((table) => lake.resolve(table));
  const duck = await DuckDbLake.open(layout.lakeDir, resolved, { fileAccess: 'lake' });
  try {
    const out: TableStatus[] = [];
    for (const table of resolved) {
      const live = await liveOffsets(table, source);
      out.push({ ...statusFromShards(table.name, await readTableCheckpoints(lake.store, table.name), live), ...(await lakeFacts(duck, table, now)) });
    }
    return out;
  } finally {
    duck.close();
  }
}

// The topic's offsets now; undefined when the embedded log was never created (nothing to read, and status creates nothing).
async function liveOffsets(table: TableSpec, source: LocalStatusSource): Promise<PartitionOffsets[] | undefined> {
  if (source.kafka === undefined && !existsSync(dataDirLayout(source.dataDir).topicDir(table.topic))) return undefined;
  const reader = await openTopicReader(table, { dataDir: source.dataDir, kafka: source.kafka });
  try {
    return await reader.offsets();
  } finally {
    await reader.close();
  }
}

async function lakeFacts(duck: DuckDbLake, table: TableSpec, now: number): Promise<Pick<TableStatus, 'newestEventTime' | 'quarantined24h'>> {
  const newest = await duck.query(`SELECT epoch_ms(max(TRY_CAST("${table.eventTime.replaceAll('"', '""')}" AS TIMESTAMPTZ))) AS newest FROM ${table.name}`);
  const newestMs = newest.rows[0]?.['newest'];
  const quarantine = await duck.query(
    `SELECT reason, count(*) AS n FROM ${table.name}_quarantine WHERE redriven_at IS NULL AND epoch_ms(TRY_CAST(kafka_timestamp AS TIMESTAMPTZ)) > ${now - DAY_MS} GROUP BY reason ORDER BY n DESC, reason`,
  );
  return {
    newestEventTime: typeof newestMs === 'number' ? new Date(newestMs).toISOString() : null,
    quarantined24h: Object.fromEntries(quarantine.rows.map((row) => [String(row['reason']), Number(row['n'])])),
  };
}
