import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
    /** The simulated clock of `streamlake local`, saved after every minute it produces (see clock.ts). */
    clockFile: join(root, 'local-clock.json'),
    /** The Kafka cluster the lake was built from, when it was not the embedded log. */
    kafkaSourceFile: join(root, 'kafka-source.json'),
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

/** Which topic a data directory's lake and checkpoint were built from. */
export type TopicSource = { readonly kind: 'embedded' } | { readonly kind: 'kafka'; readonly clusterId: string; readonly topic: string };

function describeSource(source: TopicSource): string {
  return source.kind === 'embedded' ? 'the embedded log' : `topic ${source.topic} of Kafka cluster ${source.clusterId}`;
}

/**
 * Ties a data directory to one topic source on first use and refuses any other later: the
 * checkpoint's offsets are positions in that topic, and on another one they would skip or repeat
 * records. The embedded log marks itself by its directory; a Kafka source by `kafkaSourceFile`.
 */
export async function bindTopicSource(dataDir: string, source: TopicSource): Promise<void> {
  const layout = dataDirLayout(dataDir);
  const bound: TopicSource | undefined = existsSync(layout.kafkaSourceFile)
    ? (JSON.parse(await readFile(layout.kafkaSourceFile, 'utf8')) as TopicSource)
    : existsSync(layout.topicDir)
      ? { kind: 'embedded' }
      : undefined;
  if (bound === undefined) {
    if (source.kind === 'embedded') return;
    await mkdir(layout.root, { recursive: true });
    await writeFile(layout.kafkaSourceFile, `${JSON.stringify(source)}\n`);
    return;
  }
  if (describeSource(bound) !== describeSource(source)) {
    throw new DataDirError(
      `data directory ${dataDir} holds a lake built from ${describeSource(bound)}, not from ${describeSource(source)}: its checkpoint would skip or repeat records there. ` +
        `Pass another --data-dir (or delete this one to start over)${bound.kind === 'kafka' ? ', or run `streamlake local --kafka` against that cluster' : ''}.`,
    );
  }
}

/** The embedded log and the lake directory of a data directory. */
export async function openDataDir(dataDir: string, partitions?: number) {
  const layout = dataDirLayout(dataDir);
  await bindTopicSource(dataDir, { kind: 'embedded' });
  const log = await LocalLog.open({ dir: layout.topicDir, topic: DEFAULTS.topicName, partitions: partitions ?? (existsSync(layout.topicDir) ? undefined : DEFAULTS.partitions) });
  return { layout, log, store: new LocalDirectoryStore(layout.lakeDir) };
}
