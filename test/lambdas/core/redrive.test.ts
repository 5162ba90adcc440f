import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalDirectoryStore } from '../../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { parquetEncoder } from '../../../lambdas/adapters/parquet-writer.ts';
import { serializeCheckpoint, type CheckpointState } from '../../../lambdas/core/checkpoint.ts';
import { compact } from '../../../lambdas/core/compactor.ts';
import { redrive, redriveLedgerKey, RedriveSchemaMismatchError, type RedriveOptions } from '../../../lambdas/core/redrive.ts';
import { DeviceFleet, produceMinute } from '../../../lambdas/demo/device-fleet.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import { compactorOptions } from '../../../src/local/runner.ts';
import { tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const MINUTE_MS = 60_000;
const START = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2 * 60 * MINUTE_MS;
const FLEET = new DeviceFleet({ ...DEFAULTS, devices: 20, lateShare: 0.3 });
const OPTIONS = compactorOptions(DEFAULTS, DEVICE_LOGS);
const REDRIVE: RedriveOptions = { table: DEVICE_LOGS, limits: OPTIONS.limits, codec: OPTIONS.codec, maxRecordsPerRun: 1000 };

describe('redrive', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  /** A lake whose compactor let no event be more than a minute late: the late records are in quarantine. */
  async function strictLake() {
    const dir = tempDir();
    dirs.push(dir);
    const log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: DEVICE_LOGS.topic, partitions: 3 });
    for (let minute = 1; minute <= 5; minute++) await produceMinute(FLEET, log, START + minute * MINUTE_MS);
    const store = new LocalDirectoryStore(join(dir.path, 'lake'));
    while ((await compact({ topic: log, store, encoder: parquetEncoder(), clock: { now: Date.now } }, { ...OPTIONS, limits: { ...OPTIONS.limits, maxEventAgeMs: MINUTE_MS } })).runId !== null);
    await log.close();
    return store;
  }
  const deps = (store: LocalDirectoryStore) => ({ store, encoder: parquetEncoder(), clock: { now: Date.now } });

  it('judges only the records with a Kafka timestamp at or after --since', async () => {
    const store = await strictLake();
    const all = await redrive(deps(store), { ...REDRIVE, dryRun: true });
    expect(all.redriven).toBeGreaterThan(0);
    // Records of minutes 1-5 carry Kafka timestamps in those minutes: from minute 4 on, fewer.
    const later = await redrive(deps(store), { ...REDRIVE, dryRun: true, since: START + 4 * MINUTE_MS });
    expect(later.redriven).toBeGreaterThan(0);
    expect(later.redriven).toBeLessThan(all.redriven);
    expect(await redrive(deps(store), { ...REDRIVE, since: START + 4 * MINUTE_MS })).toMatchObject({ redriven: later.redriven });
    expect(await redrive(deps(store), REDRIVE)).toMatchObject({ redriven: all.redriven - later.redriven });
  });

  it('refuses to finish a run claimed under another schema, saying how to finish it, and a dry run leaves the claim alone', async () => {
    const store = await strictLake();
    const ledger = {
      format: 1, sequence: 0, offsets: {},
      pending: { sequence: 1, runId: '0123456789abcdef', ranges: [], startedAt: Date.now(), sources: [], reason: null, since: null, limits: OPTIONS.limits, schema: 'another-schema' },
    };
    await store.compareAndSwap(redriveLedgerKey(DEVICE_LOGS.name), serializeCheckpoint(ledger as unknown as CheckpointState), null);
    expect((await redrive(deps(store), { ...REDRIVE, dryRun: true })).redriven).toBeGreaterThan(0);
    const refused = redrive(deps(store), REDRIVE);
    await expect(refused).rejects.toThrow(RedriveSchemaMismatchError);
    await expect(refused).rejects.toThrow(/claimed under schema another-schema .* with the declaration that claimed it/);
  });
});
