import { describe } from 'vitest';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { LocalLog } from '../../lambdas/adapters/local-log.ts';
import { freshKafkaTopic } from '../helpers/kafka.ts';
import { tempDir } from '../helpers/lake.ts';
import { topicContract } from '../helpers/topic-contract.ts';

describe('topic port on the embedded log', () => {
  topicContract(async (partitions) => {
    const dir = tempDir();
    const log = await LocalLog.open({ dir: dir.path, topic: 'contract', partitions });
    const close = async () => {
      await log.close();
      dir.remove();
    };
    return { writer: { produce: (records) => log.produce(records), close }, reader: log };
  });
});

// Reads past the high watermark wait this long for records that will not come (the reader waits for a lagging leader that long).
const STALL_TIMEOUT_MS = 500;

describe('topic port on Apache Kafka over PLAINTEXT', () => {
  topicContract(async (partitions) => {
    const connection = await freshKafkaTopic(partitions);
    return { writer: await openKafkaWriter(connection), reader: await openKafkaReader(connection, { stallTimeoutMs: STALL_TIMEOUT_MS }) };
  });
});

describe('topic port on Apache Kafka over SASL/OAUTHBEARER', () => {
  topicContract(async (partitions) => {
    const connection = await freshKafkaTopic(partitions, 'sasl');
    return { writer: await openKafkaWriter(connection), reader: await openKafkaReader(connection, { stallTimeoutMs: STALL_TIMEOUT_MS }) };
  });
});
