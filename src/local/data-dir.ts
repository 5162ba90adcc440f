import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalDirectoryStore } from '../../lambdas/adapters/local-directory-store.ts';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';
import { DEFAULTS } from '../../lib/config.ts';

/** The default data directory of the local pipeline. */
export const DEFAULT_DATA_DIR = './.streamlake';

/** Where the local pipeline keeps each part inside its data directory. */
export function dataDirLayout(dataDir: string) {
  const root = resolve(dataDir);
  return {
    root,
    /** The embedded log: one directory per topic. */
    topicDir: join(root, 'topics', DEFAULTS.topicName),
    /** The lake: the same keys as in the S3 bucket. */
    lakeDir: join(root, 'lake'),
    /** Where the simulated clock of `streamlake local` stopped. */
    clockFile: join(root, 'local-clock.json'),
  };
}

export class DataDirError extends Error {
  override name = 'DataDirError';
}

/** Fails with a message that says what to do when the data directory does not exist. */
export function requireDataDir(dataDir: string): void {
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new DataDirError(`data directory ${dataDir} does not exist: run \`streamlake local --data-dir ${dataDir}\` first, or pass the right --data-dir`);
  }
}

/** The embedded log and the lake directory of a data directory. */
export async function openDataDir(dataDir: string, partitions?: number) {
  const layout = dataDirLayout(dataDir);
  const log = await LocalLog.open({ dir: layout.topicDir, topic: DEFAULTS.topicName, partitions: partitions ?? (existsSync(layout.topicDir) ? undefined : DEFAULTS.partitions) });
  return { layout, log, store: new LocalDirectoryStore(layout.lakeDir) };
}
