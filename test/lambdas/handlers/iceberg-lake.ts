import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { LocalLog } from '../../../lambdas/adapters/local-log.ts';
import { ENV } from '../../../lambdas/handlers/environment.ts';
import { DEFAULTS } from '../../../lib/config.ts';
import type { FakeS3 } from '../../helpers/fake-s3.ts';
import { tempDir } from '../../helpers/lake.ts';
import type { FakeGlue } from './fake-glue.ts';

/** Table declarations with two Iceberg tables (`device_logs`, `clicks`) and a Hive-Parquet one (`orders`). */
export const ICEBERG_TABLES_DIR = fileURLToPath(new URL('../../fixtures/tables-iceberg', import.meta.url));
export const BUCKET = 'streamlake-lake-test';
export const DATABASE = 'streamlake_test';

/** The environment the CDK gives a function of `table` with `settings` (the declaration from the fixture instead of the bundle). */
export function icebergEnvironment(settings: Record<string, string>, table = 'device_logs'): NodeJS.ProcessEnv {
  return {
    AWS_REGION: 'eu-west-1',
    ...settings,
    [ENV.bootstrapBrokers]: 'b-1.example:9098',
    [ENV.table]: table,
    [ENV.tablesDir]: ICEBERG_TABLES_DIR,
    [ENV.consumerGroup]: DEFAULTS.consumerGroup,
    [ENV.lakeBucket]: BUCKET,
    [ENV.glueDatabase]: DATABASE,
  };
}

/** The demo topic in an embedded log of a temporary directory, new for each test; `process.env` is restored after each. */
export function localTopicPerTest(): { readonly log: LocalLog; readonly dir: string } {
  const saved = process.env;
  let dir: ReturnType<typeof tempDir>;
  let log: LocalLog;
  beforeEach(async () => {
    dir = tempDir();
    log = await LocalLog.open({ dir: join(dir.path, 'topic'), topic: DEFAULTS.topicName, partitions: 3 });
  });
  afterEach(async () => {
    process.env = saved;
    await log.close();
    dir.remove();
  });
  return {
    get log() {
      return log;
    },
    get dir() {
      return dir.path;
    },
  };
}

/** The metadata file the Glue table of `table` points at, parsed. */
export function currentMetadata(s3: FakeS3, glue: FakeGlue, table = 'device_logs') {
  const location = glue.tables.get(table)!.Parameters!.metadata_location!;
  return {
    key: location.slice(`s3://${BUCKET}/`.length),
    metadata: JSON.parse(Buffer.from(s3.objects.get(location.slice(`s3://${BUCKET}/`.length))!.body).toString()) as {
      'current-snapshot-id': number;
      snapshots: { 'snapshot-id': number; summary: Record<string, string> }[];
    },
  };
}
