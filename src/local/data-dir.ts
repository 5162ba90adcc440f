import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** The default data directory of the local pipeline. */
export const DEFAULT_DATA_DIR = './.streamlake';

/** Where the local pipeline keeps each part inside its data directory. */
export function dataDirLayout(dataDir: string) {
  const root = resolve(dataDir);
  const topicsDir = join(root, 'topics');
  return {
    root,
    /** The embedded logs: one directory per table's topic. */
    topicsDir,
    /** The embedded log of one topic. */
    topicDir: (topic: string) => join(topicsDir, topic),
    /** The lake: the same keys as in the S3 bucket. */
    lakeDir: join(root, 'lake'),
    /** The simulated clock of `streamlake local`, saved after every minute it produces (see clock.ts). */
    clockFile: join(root, 'local-clock.json'),
    /** The Kafka cluster the lake was built from, when it was not the embedded logs. */
    kafkaSourceFile: join(root, 'kafka-source.json'),
  };
}

/** The data directory is missing, or holds a lake of another topic source; the message says what to do. */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

/**
 * Fails, before anything is written, when the data directory, or the nearest of its parents that
 * exists, is a file: a command that creates the directory would fail half-way otherwise.
 */
export function refuseFileAsDataDir(dataDir: string): void {
  for (let path = resolve(dataDir); ; path = dirname(path)) {
    if (existsSync(path)) {
      if (statSync(path).isDirectory()) return;
      const where = path === resolve(dataDir) ? '' : ` (${path} is a file)`;
      throw new DataDirError(`data directory ${dataDir} is not a directory${where}: pass a directory, or a path that does not exist yet, to --data-dir`);
    }
    if (dirname(path) === path) return;
  }
}

/** Fails with a message that says what to do when the data directory does not exist or is not a directory. */
export function requireDataDir(dataDir: string): void {
  refuseFileAsDataDir(dataDir);
  if (!existsSync(dataDir)) {
    throw new DataDirError(
      `data directory ${dataDir} does not exist: run \`streamlake local --data-dir ${dataDir}\` (or \`streamlake produce --data-dir ${dataDir}\`) first, or pass the right --data-dir`,
    );
  }
}

/** Which topics a data directory's lake and checkpoints were built from: its embedded logs, or one Kafka cluster's. */
export type TopicSource = { readonly kind: 'embedded' } | { readonly kind: 'kafka'; readonly clusterId: string };

function describeSource(source: TopicSource): string {
  return source.kind === 'embedded' ? 'the embedded logs' : `Kafka cluster ${source.clusterId}`;
}

/**
 * Ties a data directory to one topic source on first use and refuses any other later: the
 * checkpoints' offsets are positions in those topics, and in others they would skip or repeat
 * records. The embedded logs mark themselves by their directory; a Kafka cluster by `kafkaSourceFile`.
 */
export async function bindTopicSource(dataDir: string, source: TopicSource): Promise<void> {
  const layout = dataDirLayout(dataDir);
  const bound: TopicSource | undefined = existsSync(layout.kafkaSourceFile)
    ? { kind: 'kafka', clusterId: (JSON.parse(await readFile(layout.kafkaSourceFile, 'utf8')) as { clusterId: string }).clusterId }
    : existsSync(layout.topicsDir)
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
      `data directory ${dataDir} holds a lake built from ${describeSource(bound)}, not from ${describeSource(source)}: its checkpoints would skip or repeat records there. ` +
        `Pass another --data-dir (or delete this one to start over)${bound.kind === 'kafka' ? ', or pass --kafka with that cluster' : ''}.`,
    );
  }
}
