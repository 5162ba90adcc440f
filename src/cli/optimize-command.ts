import { optimizeTable, type OptimizeProgress, type OptimizeReport } from '../../lambdas/adapters/iceberg-maintenance.ts';
import { parquetEncoder } from '../../lambdas/adapters/parquet-writer.ts';
import { tableNamed } from '../../lambdas/adapters/table-directory.ts';
import type { ObjectStore } from '../../lambdas/ports/object-store.ts';
import type { Codec } from '../../lambdas/ports/parquet.ts';
import { deployableTables } from '../../lib/tables.ts';
import { dataDirLayout, requireDataDir } from '../local/data-dir.ts';
import { LocalLake } from '../local/local-lake.ts';
import { UsageError } from './errors.ts';
import { endProgress, note, print, printJson, progressLine } from './output.ts';
import { formatBytes, formatTable } from './table.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The flags of `streamlake optimize`. */
export interface OptimizeFlags {
  dataDir: string;
  tables: string;
  table?: string;
  json?: boolean;
  targetFileMb: number;
  retentionDays: number;
  closedAfterHours: number;
  codec: Codec;
}

/**
 * `streamlake optimize`: {@link optimizeTable} on every Iceberg table of the local lake (or the
 * one `--table` names). `--json` prints `{ "<table>": <OptimizeReport>, … }`.
 */
export async function optimizeCommand(flags: OptimizeFlags): Promise<void> {
  requireDataDir(flags.dataDir);
  const declared = deployableTables(flags.tables);
  const { lakeDir } = dataDirLayout(flags.dataDir);
  const lake = new LocalLake(lakeDir);
  const tables = declared.tables.map((table) => lake.resolve(table));
  if (flags.table !== undefined) {
    const table = lake.resolve(tableNamed(declared, flags.table));
    if (table.format !== 'iceberg') {
      throw new UsageError(
        `table ${table.name} is stored as Hive-style Parquet: optimize merges the files of Iceberg tables only, whose readers switch to the merged files in one commit; ` +
          `readers of a Hive table would see a partition's rows twice, or not at all, while its files were replaced. Declare "format": "iceberg" in ${table.source} for a new table, ` +
          'or run `streamlake local --table-format iceberg` on a new --data-dir',
      );
    }
  }
  const chosen = tables.filter((table) => (flags.table === undefined ? table.format === 'iceberg' : table.name === flags.table));
  const skipped = tables.filter((table) => table.format !== 'iceberg').map((table) => table.name);
  const reports: Record<string, OptimizeReport> = {};
  for (const table of chosen) {
    reports[table.name] = await optimizeTable(lake.iceberg(table), { store: lake.store, encoder: parquetEncoder(), clock: { now: Date.now }, onProgress: (p) => showProgress(table.name, p) }, {
      targetFileBytes: flags.targetFileMb * 1_000_000, retentionMs: flags.retentionDays * DAY_MS, closedAfterMs: flags.closedAfterHours * HOUR_MS, codec: flags.codec,
    });
  }
  endProgress();
  if (flags.json) printJson(reports);
  else print(chosen.length === 0 ? 'no Iceberg table in this lake: nothing to optimize' : Object.values(reports).map(describeOptimize).join('\n\n'));
  if (flags.table === undefined && skipped.length > 0 && !flags.json) note(`not optimized, stored as Hive-style Parquet: ${skipped.join(', ')}`);
}

function showProgress(table: string, progress: OptimizeProgress): void {
  if (progress.step === 'merge') progressLine(`${table}: merged ${progress.done}/${progress.total} groups of small files, ${progress.rows} rows`, progress.done === progress.total);
  else progressLine(`${table}: removed ${progress.done}/${progress.total} unreferenced files`, progress.done === progress.total);
}

/** The figures of one table's optimize run, as `streamlake optimize` prints them. */
export function describeOptimize(report: OptimizeReport): string {
  const unit = report.partitions[0]?.partition.length === 10 ? 'day' : 'hour';
  const closed = report.partitions.filter((p) => p.closed);
  const lines = [
    report.snapshotId === null
      ? `${report.table}: no closed ${unit} has small files to merge`
      : `${report.table}: merged ${report.partitionsMerged} closed ${unit}${report.partitionsMerged === 1 ? '' : 's'} in snapshot ${report.snapshotId}: ` +
        `${report.filesBefore} → ${report.filesAfter} files, ${report.rowsRewritten} rows rewritten, ${formatBytes(report.bytesBefore)} → ${formatBytes(report.bytesAfter)}` +
        `${report.commitAttempts > 1 ? ` (committed at attempt ${report.commitAttempts}: another writer committed first)` : ''}`,
  ];
  if (closed.length > 0) lines.push(`  files per closed ${unit}: ${spread(closed.map((p) => p.filesBefore))} before, ${spread(closed.map((p) => p.filesAfter))} after`);
  const days = dayFiles(report);
  if (days.length > 0) lines.push(formatTable(['day', 'files before', 'files after'], days).replace(/^/gm, '  '));
  const open = report.partitions.length - closed.length;
  if (open > 0) lines.push(`  ${open} ${unit}${open === 1 ? '' : 's'} still open (ending after ${report.closedBefore}), left as they are; --closed-after-hours merges sooner`);
  const removed = report.filesRemoved;
  lines.push(
    `  ${report.snapshotsExpired} snapshot${report.snapshotsExpired === 1 ? '' : 's'} expired; removed ${removed.dataFiles} data files, ${removed.manifests} manifests, ` +
      `${removed.manifestLists} manifest lists, ${removed.metadataFiles} metadata files (${formatBytes(removed.bytes)})`,
  );
  return lines.join('\n');
}

// `max 29, median 12` of files per partition.
function spread(counts: readonly number[]): string {
  const sorted = [...counts].sort((a, b) => a - b);
  return `max ${sorted.at(-1)}, median ${sorted[Math.floor((sorted.length - 1) / 2)]}`;
}

/** What a query of one UTC day opens: the data files of its partitions, before and after. */
export function dayFiles(report: OptimizeReport): { day: string; 'files before': number; 'files after': number }[] {
  const days = new Map<string, { day: string; 'files before': number; 'files after': number }>();
  for (const p of report.partitions) {
    const day = p.partition.slice(0, 10);
    const row = days.get(day) ?? { day, 'files before': 0, 'files after': 0 };
    row['files before'] += p.filesBefore;
    row['files after'] += p.filesAfter;
    days.set(day, row);
  }
  return [...days.values()];
}
