import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { dataDirLayout } from '../../../src/local/data-dir.ts';
import { startStreamlake, type CliExit } from '../../helpers/cli-process.ts';
import { fleetReadings } from '../../helpers/fleet-readings.ts';
import { auditLake, tempDir } from '../../helpers/lake.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const DEVICES = 6;

// Each stop waits for the run's n-th compaction (every 5 simulated minutes), then for a few
// milliseconds more, so the signal lands at a different step each time: producing a minute,
// saving the clock, compacting.
const STOPS: { signal: NodeJS.Signals; afterCompactions: number; delayMs: number }[] = [
  { signal: 'SIGINT', afterCompactions: 1, delayMs: 0 },
  { signal: 'SIGKILL', afterCompactions: 1, delayMs: 4 },
  { signal: 'SIGKILL', afterCompactions: 2, delayMs: 13 },
  { signal: 'SIGTERM', afterCompactions: 1, delayMs: 9 },
];

describe('streamlake local, interrupted and run again', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'data');
  afterAll(() => dir.remove());

  it('sends every reading once, with no simulated minute missing, however the runs before were stopped', { timeout: 60_000 }, async () => {
    // The same command each time, as a user would type it again; only the last run is let finish.
    const command = (minutes: number) => ['local', '--minutes', String(minutes), '--devices', String(DEVICES), '--data-dir', dataDir, '--json'];
    const stopped: CliExit[] = [];
    for (const { signal, afterCompactions, delayMs } of STOPS) {
      const run = startStreamlake(command(100_000));
      await run.stderrLines(/compactor run/, afterCompactions);
      await sleep(delayMs);
      run.kill(signal);
      stopped.push(await run.exit);
    }
    const last = await startStreamlake(command(3)).exit;
    expect(last.code).toBe(0);

    const layout = dataDirLayout(dataDir);
    const log = await LocalLog.open({ dir: layout.topicDir(DEVICE_LOGS.topic), topic: DEVICE_LOGS.topic });
    const inLog = (await log.offsets()).reduce((sum, o) => sum + o.highWatermark, 0);
    expect(await fleetReadings(layout.lakeDir)).toEqual({ devices: DEVICES, readings: inLog, repeated: 0, repeatedInQuarantine: 0, misplaced: 0, devicesWithGaps: 0 });
    expect(await auditLake(layout.lakeDir, await log.offsets())).toMatchObject({ duplicates: 0, incompletePartitions: [] });

    // A signal the command handles ends it at the end of a minute, with the shell's code for that
    // signal and a word on how to go on; SIGKILL ends it wherever it was.
    expect(stopped.map((exit) => exit.code ?? exit.signal)).toEqual([130, 'SIGKILL', 'SIGKILL', 143]);
    for (const exit of [stopped[0]!, stopped[3]!]) {
      expect(JSON.parse(exit.stdout)).toMatchObject({ interrupted: true });
      expect(exit.stderr).toMatch(/^streamlake: stopped after \d+ of 100000 simulated minutes; .* Run the same command again to continue from there/m);
    }
  });
});
