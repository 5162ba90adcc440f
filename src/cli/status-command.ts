import type { Command } from 'commander';
import { DEFAULT_STACK_NAME } from '../../lib/config.ts';
import { deployableTables } from '../../lib/tables.ts';
import type { AwsStatus } from '../aws/status.ts';
import { requireDataDir } from '../local/data-dir.ts';
import { attentionReasons, formatAge, isStuck, localStatus, type TableStatus } from '../local/status.ts';
import { STATUS_DEFAULTS, type StatusThresholds } from '../local/status-thresholds.ts';
import { UsageError } from './errors.ts';
import { print, printJson } from './output.ts';
import { formatTable } from './table.ts';

/** The flags of `streamlake status`. */
export interface StatusFlags {
  dataDir: string;
  tables: string;
  kafka?: string[];
  aws?: boolean;
  stack?: string;
  json?: boolean;
  stuckAfterMinutes: number;
  staleAfterMinutes: number;
  maxLag: number;
}

/** Exit code 1 with the reasons already printed: the pipeline needs attention. */
export class NeedsAttentionError extends Error {
  override name = 'NeedsAttentionError';
}

/**
 * `streamlake status`: the pipeline's health, locally (the data directory) or on AWS (`--aws`).
 * Throws {@link NeedsAttentionError} (exit 1) when a reason was found, after printing the status.
 */
export async function statusCommand(flags: StatusFlags, command?: Command): Promise<void> {
  const thresholds = { stuckAfterMinutes: flags.stuckAfterMinutes, staleAfterMinutes: flags.staleAfterMinutes, maxLag: flags.maxLag };
  const now = Date.now();
  if (flags.aws) {
    if (flags.kafka !== undefined) throw new UsageError('--kafka reads a local lake\'s topics; with --aws the cluster is the stack\'s MSK cluster: drop one of them');
    if (command?.getOptionValueSource('dataDir') === 'cli') throw new UsageError('--data-dir names a local lake; with --aws the lake is the stack\'s bucket: drop one of them');
    const { awsStatus } = await import('../aws/status.ts');
    const status = await awsStatus({ stack: flags.stack ?? DEFAULT_STACK_NAME, tables: deployableTables(flags.tables).tables, now });
    report(status.tables, [...awsReasons(status), ...attentionReasons(status.tables, thresholds, now)], { now, thresholds, json: flags.json, aws: status });
    return;
  }
  if (flags.stack !== undefined) throw new UsageError('--stack names the deployed stack: pass --aws with it');
  requireDataDir(flags.dataDir);
  const tables = await localStatus(deployableTables(flags.tables).tables, { dataDir: flags.dataDir, kafka: flags.kafka }, now);
  report(tables, attentionReasons(tables, thresholds, now), { now, thresholds, json: flags.json });
}

function awsReasons(status: AwsStatus): string[] {
  const reasons: string[] = [];
  if (status.cluster.state !== 'ACTIVE') reasons.push(`MSK cluster ${status.cluster.name} is ${status.cluster.state}${status.cluster.stateInfo ? `: ${status.cluster.stateInfo}` : ''}`);
  for (const alarm of status.alarms) if (alarm.state === 'ALARM') reasons.push(`alarm ${alarm.name} is in ALARM: ${alarm.reason}`);
  if (status.deadLetters !== null && status.deadLetters > 0) reasons.push(`${status.deadLetters} failed invocations wait in the dead-letter queue ${status.deadLetterQueue}`);
  return reasons;
}

function report(tables: readonly TableStatus[], reasons: readonly string[], { now, thresholds, json, aws }: { now: number; thresholds: StatusThresholds; json?: boolean; aws?: AwsStatus }): void {
  const healthy = reasons.length === 0;
  if (json) {
    printJson({ healthy, reasons, tables, ...(aws && { stack: aws.stack, cluster: aws.cluster, alarms: aws.alarms, deadLetters: aws.deadLetters }) });
  } else {
    print(describeStatus(tables, now, thresholds, aws));
    print('');
    print(healthy ? 'healthy' : `needs attention:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
  }
  if (!healthy) throw new NeedsAttentionError(`${reasons.length} thing${reasons.length === 1 ? '' : 's'} need${reasons.length === 1 ? 's' : ''} attention`);
}

/** The human output of `streamlake status`: aligned tables; `thresholds` tell a stuck claim. */
export function describeStatus(tables: readonly TableStatus[], now: number, thresholds: StatusThresholds = STATUS_DEFAULTS, aws?: AwsStatus): string {
  const sections: string[] = [];
  if (aws) {
    const c = aws.cluster;
    sections.push(
      formatTable(['cluster', 'state', 'kafka', 'brokers', 'storage GiB'], [{ cluster: c.name, state: c.state, kafka: c.kafkaVersion, brokers: c.brokers, 'storage GiB': c.storageGiB }]) +
        (c.bootstrapBrokers ? `\nbootstrap brokers: ${c.bootstrapBrokers}` : ''),
    );
    sections.push(formatTable(['alarm', 'state', 'since'], aws.alarms.map((a) => ({ alarm: a.name, state: a.state, since: a.since }))));
    sections.push(`dead-letter queue: ${aws.deadLetters === null ? 'unknown' : `${aws.deadLetters} messages`}`);
  }
  sections.push(
    formatTable(
      ['table', 'run', 'committed', 'records', 'quarantined', 'pending since', 'lag', 'newest event', 'age'],
      tables.map((t) => ({
        table: t.table,
        run: t.sequence,
        committed: t.lastRunAt,
        records: t.lastRun?.records ?? null,
        quarantined: t.lastRun?.quarantined ?? null,
        'pending since': t.pendingSince === null ? '-' : claimed(t.pendingSince, t.pendingSequence),
        lag: t.lag.total === null ? 'unknown' : `${t.lag.total} (${t.lag.source})`,
        'newest event': t.newestEventTime,
        age: t.newestEventTime === null ? '-' : formatAge(now - Date.parse(t.newestEventTime)),
      })),
    ),
  );
  const shards = tables.flatMap((t) =>
    (t.shards ?? []).map((s) => ({
      table: t.table, shard: `${s.shard} of ${s.of}`, run: s.sequence, committed: s.lastRunAt,
      'pending since': s.pendingSince === null ? '-' : claimed(s.pendingSince, s.pendingSequence),
      lag: s.lag.total === null ? 'unknown' : `${s.lag.total} (${s.lag.source})`,
    })),
  );
  if (shards.length > 0) sections.push(formatTable(['table', 'shard', 'run', 'committed', 'pending since', 'lag'], shards));
  const handovers = handoverRows(tables, now, thresholds);
  if (handovers.length > 0) sections.push(formatTable(['table', 'handover', 'not taken over', 'earlier claims'], handovers));
  const partitions = tables.flatMap((t) => Object.entries(t.lag.partitions).map(([partition, lag]) => ({ table: t.table, partition: Number(partition), lag })));
  if (partitions.length > 0) sections.push(formatTable(['table', 'partition', 'lag'], partitions));
  const quarantine = tables.flatMap((t) => Object.entries(t.quarantined24h ?? {}).map(([reason, records]) => ({ table: t.table, reason, 'quarantined (24h)': records })));
  sections.push(quarantine.length > 0 ? formatTable(['table', 'reason', 'quarantined (24h)'], quarantine) : 'quarantined in the last 24 hours: none');
  const unknown = tables.filter((t) => t.unknownFields.length > 0);
  if (unknown.length > 0) sections.push(unknown.map((t) => `unknown fields in ${t.table} (kept in _extra): ${t.unknownFields.join(', ')}`).join('\n'));
  return sections.join('\n\n');
}

// A row per table whose shard count is changing: the shards still to take over, and the earlier generation's claims they wait for.
function handoverRows(tables: readonly TableStatus[], now: number, thresholds: StatusThresholds): Record<string, string>[] {
  return tables.flatMap(({ table, handover }) =>
    handover === undefined ? [] : [{
      table, handover: `${handover.from} → ${handover.to} shards`,
      'not taken over': handover.waiting.length === 0 ? '-' : `shard ${handover.waiting.join(', ')}`,
      'earlier claims': handover.claims.length === 0 ? '-' : handover.claims.map((c) => `shard ${c.shard} of ${c.of}: ${claimed(c.pendingSince, c.pendingSequence)}${isStuck(c.pendingSince, thresholds, now) ? ' stuck' : ''}`).join('; '),
    }],
  );
}

// A claim as the tables show it: "2026-11-27 11:30:00 (run 5)".
function claimed(since: string, sequence: number | null): string {
  return `${since.replace('T', ' ').replace(/\.\d+Z$/, '')} (run ${sequence})`;
}
