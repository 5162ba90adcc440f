/**
 * A child process that races for the embedded log's writer lock, for tests that need several
 * processes to contend at one instant. Each line on stdin is `{"dir": …, "at": epoch ms}`: the
 * racer opens the topic in `dir`, waits until `at`, produces one record (which takes the lock) and
 * prints a {@link RaceOutcome} line. A winner keeps that lock until it exits; a loser closes. Then
 * it waits for the next line.
 *
 * Run it with `node test/helpers/lock-racer.ts`.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';

/** What one racer got: the lock, or the error that refused it. */
export interface RaceOutcome {
  readonly pid: number;
  readonly won: boolean;
  readonly error?: string;
  readonly message?: string;
}

/** The topic the racers produce to. */
export const RACE_TOPIC = 'race';

// Open writers of the races this process won, kept referenced so their files stay open.
const held: LocalLog[] = [];

async function race(dir: string, at: number): Promise<RaceOutcome> {
  const log = await LocalLog.open({ dir, topic: RACE_TOPIC, partitions: 1 });
  // Sleep to just before the start, then spin: timers alone would spread the racers over a millisecond or more.
  await sleep(Math.max(0, at - Date.now() - 3));
  while (Date.now() < at);
  try {
    await log.produce([{ key: null, value: new TextEncoder().encode(String(process.pid)), timestamp: at }]);
    held.push(log);
    return { pid: process.pid, won: true };
  } catch (error) {
    await log.close();
    return { pid: process.pid, won: false, error: (error as Error).name, message: (error as Error).message };
  }
}

if (process.argv[1] === import.meta.filename) {
  for await (const line of createInterface({ input: process.stdin })) {
    const { dir, at } = JSON.parse(line) as { dir: string; at: number };
    process.stdout.write(`${JSON.stringify(await race(dir, at))}\n`);
  }
}
