import { createHash } from 'node:crypto';
import type { Clock } from '../ports/clock.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Codec, ParquetEncoder } from '../ports/parquet.ts';
import type { TableFormat } from '../ports/table-format.ts';
import type { TopicRecord } from '../ports/topic.ts';
import { loadCheckpoint, serializeCheckpoint, type CheckpointState, type PendingRun } from './checkpoint.ts';
import { RecordDecoder, type QuarantineReason, type ValidationLimits } from './decode.ts';
import { hiveParquetFormat } from './hive-table.ts';
import { quarantinePrefix, redriveFileStem, redriveLedgerKey } from './lake-layout.ts';
import { LakeRows } from './lake-rows.ts';
import type { Rejection } from './rejection.ts';
import { tableColumns, type TableSpec } from './table-declaration.ts';

/**
 * `streamlake redrive`: the records a table's compactor quarantined are judged again by the
 * current declaration and limits; those that pass land in the table with their original Kafka
 * lineage, exactly once, and their quarantine lines say when and by which run.
 *
 * A redrive run is claimed in the table's redrive ledger (a checkpoint-shaped object, so the
 * claim protocol and the Iceberg file expiry treat it like a compactor's), names the quarantine
 * files it redrives, then: writes the passing records' Parquet files (named by the run, created
 * only if absent), commits them to the table (an Iceberg snapshot marked with the run; nothing
 * more for Hive-Parquet), rewrites the quarantine files with each line's new verdict, and commits
 * the ledger. Every step can be repeated with the same result, so a crashed run is finished by
 * the next redrive, and a second redrive that meets a claim finishes that run instead of its own.
 */

/** One line of a quarantine file, as the compactor writes it and a redrive updates it. */
export interface QuarantineLine {
  readonly kafka_partition: number;
  readonly kafka_offset: number;
  /** ISO-8601 UTC. */
  readonly kafka_timestamp: string;
  readonly reason: QuarantineReason;
  readonly detail: string;
  readonly key_base64: string | null;
  readonly raw_base64: string;
  /** Set by the redrive that landed the record in the table: when that run was claimed, ISO-8601 UTC. */
  readonly redriven_at?: string;
  /** …and that run's sequence in the ledger. */
  readonly redrive_run?: number;
}

/** A redrive run that has claimed its quarantine files but not committed: whoever finds it finishes it. */
export interface PendingRedrive extends PendingRun {
  /** The quarantine files it redrives, sorted. */
  readonly sources: readonly string[];
  /** Only lines quarantined for this reason; null for every reason. */
  readonly reason: QuarantineReason | null;
  /** Only records with a Kafka timestamp at or after this epoch ms; null for all. */
  readonly since: number | null;
  readonly limits: ValidationLimits;
  readonly schema: string;
}

/** The redrive ledger of a table. It has a checkpoint's shape, with no offsets of its own. */
export interface RedriveLedger extends Omit<CheckpointState, 'pending' | 'lastRun'> {
  readonly pending: PendingRedrive | null;
}

export interface RedriveDeps {
  readonly store: ObjectStore;
  readonly encoder: ParquetEncoder;
  readonly clock: Clock;
  /** @default Hive-style Parquet */
  readonly format?: TableFormat;
  /** Called after each quarantine file is judged (`phase: 'judge'`) and each run commits. */
  readonly onProgress?: (progress: { phase: 'judge' | 'commit'; done: number; total: number }) => void;
}

export interface RedriveOptions {
  readonly table: TableSpec;
  readonly limits: ValidationLimits;
  readonly codec: Codec;
  /** Most quarantined records one run redrives (memory); the other files go in later runs. */
  readonly maxRecordsPerRun: number;
  readonly reason?: QuarantineReason;
  /** Epoch ms: only records with a Kafka timestamp at or after it. */
  readonly since?: number;
  /** Judge and report, write nothing. */
  readonly dryRun?: boolean;
}

/** Counts by the reason the records were quarantined with. */
export interface ReasonCounts {
  readonly redriven: number;
  readonly stillFailing: number;
}

/** A record that passes now, as the dry run shows it. */
export interface RedriveSample {
  readonly kafka_partition: number;
  readonly kafka_offset: number;
  readonly kafka_timestamp: string;
  /** The reason it was quarantined with. */
  readonly reason: QuarantineReason;
  /** Its value, as text (cut at 200 characters). */
  readonly value: string;
}

export interface RedriveReport {
  readonly table: string;
  readonly dryRun: boolean;
  /** Records that landed in the table (with --dry-run: that would). */
  readonly redriven: number;
  /** Records judged again that stay in quarantine. */
  readonly stillFailing: number;
  /** By the reason the records were quarantined with. */
  readonly byReason: Readonly<Record<string, ReasonCounts>>;
  /** The records still failing, by the reason they fail with now. */
  readonly stillFailingByReason: Readonly<Record<string, number>>;
  /** Runs this redrive committed (and the sequence of each), including one it finished for an interrupted redrive. */
  readonly runs: readonly number[];
  /** True when it finished a run an earlier or concurrent redrive had claimed. */
  readonly resumed: boolean;
  /** A dry run's note of a redrive run claimed and not committed (a crashed redrive), which the next redrive finishes first; null when none. */
  readonly pending: { readonly sequence: number; readonly claimedAt: string } | null;
  readonly files: readonly string[];
  readonly sample: readonly RedriveSample[];
}

export class RedriveSchemaMismatchError extends Error {
  override name = 'RedriveSchemaMismatchError';
}

export class RedriveConflictError extends Error {
  override name = 'RedriveConflictError';
}

const MAX_ATTEMPTS = 5;
const MAX_ROUNDS = 100;
const SAMPLE_SIZE = 5;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Redrives `options.table`'s quarantined records: first finishes a run an interrupted redrive
 * left claimed, then judges every quarantine file (the report of a dry run) and redrives the
 * files with a record whose verdict changed, at most `maxRecordsPerRun` records per run.
 */
export async function redrive(deps: RedriveDeps, options: RedriveOptions): Promise<RedriveReport> {
  const tally = new Tally(options.table.name, options.dryRun === true);
  const key = redriveLedgerKey(options.table.name);
  if (tally.dryRun) {
    const { pending } = (await loadLedger(deps.store, key)).ledger;
    tally.pending = pending === null ? null : { sequence: pending.sequence, claimedAt: new Date(pending.startedAt).toISOString() };
  } else if (await finishPending(deps, options, key, tally)) {
    tally.resumed = true;
  }
  for (let round = 0; round < MAX_ROUNDS; round++) {
    tally.judgement = new Verdicts();
    const judged = await judgeQuarantine(deps, options, tally.judgement);
    if (tally.dryRun) return tally.report();
    const batches = batchesOf(judged.filter((file) => file.changes > 0), options.maxRecordsPerRun);
    let stale = false;
    for (const [i, batch] of batches.entries()) {
      stale = !(await claimAndFinish(deps, options, key, batch.map((file) => file.key), tally));
      if (stale) break;
      deps.onProgress?.({ phase: 'commit', done: i + 1, total: batches.length });
    }
    // Another redrive claimed first: its run is finished now, and the quarantine is judged again.
    if (!stale) return tally.report();
    tally.resumed = true;
  }
  throw new RedriveConflictError(`redrive ledger ${key}: other redrives claimed first ${MAX_ROUNDS} times in a row; too many redrives run at once, run one at a time`);
}

/** A quarantine file as judged: how many of its lines would change verdict (land, or fail for another reason). */
interface JudgedFile {
  readonly key: string;
  readonly candidates: number;
  readonly changes: number;
}

async function judgeQuarantine(deps: RedriveDeps, options: RedriveOptions, verdicts: Verdicts): Promise<JudgedFile[]> {
  const sinceDate = options.since === undefined ? '' : new Date(options.since).toISOString().slice(0, 10);
  const keys = (await deps.store.list(quarantinePrefix(options.table.name)))
    .map((entry) => entry.key)
    .filter((k) => k.endsWith('.ndjson') && (dateOfQuarantineKey(k) ?? '') >= sinceDate)
    .sort();
  const judge = new Judge(options.table, options.limits);
  const filter = { reason: options.reason ?? null, since: options.since ?? null, run: null };
  const judged: JudgedFile[] = [];
  for (const [i, k] of keys.entries()) {
    const object = await deps.store.get(k);
    let candidates = 0;
    let changes = 0;
    for (const line of object ? parseLines(object.body, k) : []) {
      if (!isCandidate(line, filter)) continue;
      candidates++;
      const verdict = judge.verdict(line);
      if (verdict === undefined || verdict.reason !== line.reason || verdict.detail !== line.detail) changes++;
      verdicts.add(line, verdict);
    }
    judged.push({ key: k, candidates, changes });
    deps.onProgress?.({ phase: 'judge', done: i + 1, total: keys.length });
  }
  return judged;
}

/** Files in key order, cut into runs of at most `max` candidate records (a file larger than that is a run alone). */
function batchesOf(files: readonly JudgedFile[], max: number): JudgedFile[][] {
  const batches: JudgedFile[][] = [];
  let current: JudgedFile[] = [];
  let records = 0;
  for (const file of files) {
    if (current.length > 0 && records + file.candidates > max) {
      batches.push(current);
      current = [];
      records = 0;
    }
    current.push(file);
    records += file.candidates;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Finishes a run that a redrive claimed and did not commit; true when there was one. */
async function finishPending(deps: RedriveDeps, options: RedriveOptions, key: string, tally: Tally): Promise<boolean> {
  const { ledger, etag } = await loadLedger(deps.store, key);
  if (ledger.pending === null) return false;
  await finishRun(deps, options, key, ledger, etag!, tally);
  return true;
}

/**
 * Claims a run over `sources` and finishes it: true. False when another redrive had claimed a
 * run, or claimed one first: that run is finished (by this redrive too) and `sources` may be stale.
 */
async function claimAndFinish(deps: RedriveDeps, options: RedriveOptions, key: string, sources: readonly string[], tally: Tally): Promise<boolean> {
  const { ledger, etag } = await loadLedger(deps.store, key);
  if (ledger.pending === null) {
    await formatOf(deps, options).checkRedriveLedger(ledger.sequence);
    const startedAt = deps.clock.now();
    const sequence = ledger.sequence + 1;
    const run: PendingRedrive = {
      sequence, runId: redriveRunId(sequence, startedAt, sources), ranges: [], startedAt, sources: [...sources],
      reason: options.reason ?? null, since: options.since ?? null, limits: options.limits, schema: options.table.fingerprint,
    };
    const claim = await deps.store.compareAndSwap(key, serializeCheckpoint({ ...ledger, pending: run } as unknown as CheckpointState), etag);
    if (claim.ok) {
      await finishRun(deps, options, key, { ...ledger, pending: run }, claim.etag, tally);
      return true;
    }
  }
  await finishPending(deps, options, key, tally);
  return false;
}

/**
 * Finishes `ledger.pending`: lands the records of its files that pass, commits them to the table,
 * writes each line's verdict back to its quarantine file and commits the ledger. Repeatable:
 * lines this run marked already are judged again and land under the same file names.
 */
async function finishRun(deps: RedriveDeps, options: RedriveOptions, key: string, ledger: RedriveLedger, claimEtag: string, tally: Tally): Promise<void> {
  const run = ledger.pending!;
  if (run.schema !== options.table.fingerprint) {
    throw new RedriveSchemaMismatchError(
      `redrive run ${run.sequence} in ${key} was claimed under schema ${run.schema} and this redrive judges ${options.table.name} with schema ${options.table.fingerprint}: ` +
        'finishing it would judge its records by two schemas. Run `streamlake redrive` with the declaration that claimed it (check out that version) to finish it, then with this one.',
    );
  }
  const filter = { reason: run.reason, since: run.since, run };
  const rows = new LakeRows(options.table, run.limits, 0);
  const verdicts = new Verdicts();
  // Each candidate's verdict, by its offset: judged once, as its row is added, and written back to its line.
  const judged = new Map<string, Rejection | undefined>();
  for (const source of run.sources) {
    const object = await deps.store.get(source);
    for (const line of object ? parseLines(object.body, source) : []) {
      if (!isCandidate(line, filter)) continue;
      const rejection = rows.add(recordOf(line));
      judged.set(offsetOf(line), rejection);
      verdicts.add(line, rejection);
    }
  }
  const format = formatOf(deps, options);
  const written = await rows.write(deps, options.codec, format, redriveFileStem(run.sequence, run.runId));
  await format.commitRedrive(run, written);
  const redrivenAt = new Date(run.startedAt).toISOString();
  for (const source of run.sources) await rewriteQuarantine(deps.store, source, (lines) => lines.map((line) => verdictLine(line, judged, filter, redrivenAt)));
  const committed = { format: 1 as const, sequence: run.sequence, offsets: {}, pending: null };
  const swap = await deps.store.compareAndSwap(key, serializeCheckpoint(committed), claimEtag);
  if (!swap.ok && (await loadLedger(deps.store, key)).ledger.sequence < run.sequence) {
    throw new RedriveConflictError(`redrive ledger ${key} changed under run ${run.sequence} before it committed; run the redrive again to finish it`);
  }
  tally.committed(run.sequence, verdicts, written.map((file) => file.key));
}

/** The line with its verdict now: marked as redriven by `filter.run` when it passed, with its new reason when it fails otherwise. */
function verdictLine(line: QuarantineLine, judged: ReadonlyMap<string, Rejection | undefined>, filter: LineFilter, redrivenAt: string): QuarantineLine {
  if (!isCandidate(line, filter) || !judged.has(offsetOf(line))) return line;
  const rejection = judged.get(offsetOf(line));
  if (rejection === undefined) return { ...line, redriven_at: redrivenAt, redrive_run: filter.run!.sequence };
  const { redriven_at: _at, redrive_run: _run, ...rest } = line;
  return { ...rest, reason: rejection.reason, detail: rejection.detail };
}

function offsetOf(line: QuarantineLine): string {
  return `${line.kafka_partition}:${line.kafka_offset}`;
}

function formatOf(deps: RedriveDeps, options: RedriveOptions): TableFormat {
  return deps.format ?? hiveParquetFormat(options.table);
}

/** Writes `rewrite` of the file's lines back, by compare-and-swap: a concurrent finisher of the same run writes the same lines. */
async function rewriteQuarantine(store: ObjectStore, key: string, rewrite: (lines: readonly QuarantineLine[]) => QuarantineLine[]): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const object = await store.get(key);
    if (!object) return;
    const before = decoder.decode(object.body);
    const after = serializeLines(rewrite(parseLines(object.body, key)));
    if (after === before) return;
    if ((await store.compareAndSwap(key, encoder.encode(after), object.etag)).ok) return;
  }
  throw new RedriveConflictError(`quarantine file ${key} kept changing while a redrive rewrote it; run the redrive again`);
}

interface LineFilter {
  readonly reason: QuarantineReason | null;
  readonly since: number | null;
  /** The run finishing: lines it marked already are its candidates again. */
  readonly run: PendingRedrive | null;
}

/** Whether a redrive judges `line`: not redriven by another run, of the reason and time asked for. */
function isCandidate(line: QuarantineLine, filter: LineFilter): boolean {
  if (line.redriven_at !== undefined && line.redriven_at !== null) {
    const run = filter.run;
    return run !== null && line.redrive_run === run.sequence && line.redriven_at === new Date(run.startedAt).toISOString();
  }
  if (filter.reason !== null && line.reason !== filter.reason) return false;
  return filter.since === null || Date.parse(line.kafka_timestamp) >= filter.since;
}

/** Judges quarantine lines by a declaration and limits, keeping nothing. */
class Judge {
  private readonly decoder: RecordDecoder;
  private readonly row: Float64Array;

  constructor(table: TableSpec, limits: ValidationLimits) {
    this.decoder = new RecordDecoder(table, limits);
    this.row = new Float64Array(tableColumns(table).length);
  }

  verdict(line: QuarantineLine): { reason: QuarantineReason; detail: string } | undefined {
    const record = recordOf(line);
    return this.decoder.decode(record.value, record.timestamp, this.row);
  }
}

function recordOf(line: QuarantineLine): TopicRecord {
  return {
    partition: line.kafka_partition, offset: line.kafka_offset, timestamp: Date.parse(line.kafka_timestamp),
    key: line.key_base64 === null ? null : Buffer.from(line.key_base64, 'base64'), value: Buffer.from(line.raw_base64, 'base64'),
  };
}

/** Verdicts on quarantine lines, counted: of a whole quarantine (the judgement) or of one run. */
class Verdicts {
  passing = 0;
  failing = 0;
  readonly byReason: Record<string, { redriven: number; stillFailing: number }> = {};
  readonly failingNow: Record<string, number> = {};
  readonly sample: RedriveSample[] = [];

  /** One line judged: `rejection` is why it fails now, undefined when it passes. */
  add(line: QuarantineLine, rejection: { reason: QuarantineReason } | undefined): void {
    const counts = (this.byReason[line.reason] ??= { redriven: 0, stillFailing: 0 });
    if (rejection !== undefined) {
      this.failing++;
      counts.stillFailing++;
      this.failingNow[rejection.reason] = (this.failingNow[rejection.reason] ?? 0) + 1;
      return;
    }
    this.passing++;
    counts.redriven++;
    if (this.sample.length < SAMPLE_SIZE) {
      const value = Buffer.from(line.raw_base64, 'base64').toString('utf8');
      this.sample.push({ kafka_partition: line.kafka_partition, kafka_offset: line.kafka_offset, kafka_timestamp: line.kafka_timestamp, reason: line.reason, value: value.length > 200 ? `${value.slice(0, 200)}…` : value });
    }
  }
}

/**
 * What a redrive reports: a dry run, its judgement of the quarantine; a redrive, the records its
 * runs landed and the records its judgement found still failing.
 */
class Tally {
  judgement = new Verdicts();
  private readonly landed = new Verdicts();
  private readonly runs: number[] = [];
  private readonly files: string[] = [];
  resumed = false;
  pending: RedriveReport['pending'] = null;
  readonly table: string;
  readonly dryRun: boolean;

  constructor(table: string, dryRun: boolean) {
    this.table = table;
    this.dryRun = dryRun;
  }

  committed(run: number, verdicts: Verdicts, files: readonly string[]): void {
    this.runs.push(run);
    this.files.push(...files);
    this.landed.passing += verdicts.passing;
    for (const [reason, counts] of Object.entries(verdicts.byReason)) (this.landed.byReason[reason] ??= { redriven: 0, stillFailing: 0 }).redriven += counts.redriven;
    if (this.landed.sample.length < SAMPLE_SIZE) this.landed.sample.push(...verdicts.sample.slice(0, SAMPLE_SIZE - this.landed.sample.length));
  }

  report(): RedriveReport {
    const passed = this.dryRun ? this.judgement : this.landed;
    const reasons = [...new Set([...Object.keys(passed.byReason), ...Object.keys(this.judgement.byReason)])].sort();
    return {
      table: this.table, dryRun: this.dryRun, redriven: passed.passing, stillFailing: this.judgement.failing,
      byReason: Object.fromEntries(reasons.map((reason) => [reason, { redriven: passed.byReason[reason]?.redriven ?? 0, stillFailing: this.judgement.byReason[reason]?.stillFailing ?? 0 }])),
      stillFailingByReason: { ...this.judgement.failingNow }, runs: [...this.runs], resumed: this.resumed, pending: this.pending, files: [...this.files], sample: [...passed.sample],
    };
  }
}

/** `quarantine/<table>/dt=2026-11-27/…`: the date. */
function dateOfQuarantineKey(key: string): string | undefined {
  return /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
}

function parseLines(body: Uint8Array, key: string): QuarantineLine[] {
  return decoder.decode(body).split('\n').filter((line) => line.length > 0).map((line, i) => {
    try {
      return JSON.parse(line) as QuarantineLine;
    } catch (error) {
      throw new SyntaxError(`quarantine file ${key}, line ${i + 1}, is not JSON (${(error as Error).message}); restore the file from a bucket version`);
    }
  });
}

function serializeLines(lines: readonly QuarantineLine[]): string {
  return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
}

async function loadLedger(store: ObjectStore, key: string): Promise<{ ledger: RedriveLedger; etag: string | null }> {
  const { state, etag } = await loadCheckpoint(store, key);
  return { ledger: state as unknown as RedriveLedger, etag };
}

/** Unique to the run: a ledger recreated from nothing numbers its runs from 1 again, and must not take another run's marks or files for its own. */
function redriveRunId(sequence: number, startedAt: number, sources: readonly string[]): string {
  return createHash('sha256').update(`${sequence}@${startedAt}:${sources.join(',')}`).digest('hex').slice(0, 16);
}
