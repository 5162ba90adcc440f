import { type KafkaConnection } from '../../lambdas/adapters/kafka.ts';
import { openKafkaReader } from '../../lambdas/adapters/kafka-reader.ts';
import { openKafkaWriter } from '../../lambdas/adapters/kafka-writer.ts';
import { createCompactorHandler } from '../../lambdas/handlers/compactor.ts';
import { createGeneratorHandler } from '../../lambdas/handlers/generator.ts';
import type { TopicReader } from '../../lambdas/ports/topic.ts';
import { pausingAfterBatches } from './compactor.ts';
import type { CompactorHandler, GeneratorHandler } from './deployed.ts';
import type { FakeS3 } from './fake-s3.ts';

/**
 * The connection a handler built for MSK (IAM over TLS), pointed at every SASL listener of a
 * multi-broker cluster instead, as MSK hands out several bootstrap brokers: same topic and client
 * id, OAUTHBEARER with the brokers' unsecured validator.
 */
export function onCluster(connection: KafkaConnection, saslBrokers: readonly string[]): KafkaConnection {
  return { ...connection, brokers: [...saslBrokers], auth: { mechanism: 'oauthbearer-unsecured', principal: connection.clientId }, tls: false };
}

/**
 * `DeployedHandlers` on a cluster: the two Lambdas as deployed (configured from `process.env`),
 * their Kafka clients on all the cluster's SASL listeners, the lake in a FakeS3 bucket. Each
 * handler stands for one Lambda container; `close()` closes every client they opened.
 */
export class ClusterHandlers {
  /** The connections the handlers built from their environment, before the swap to the cluster. */
  readonly requested: KafkaConnection[] = [];
  private readonly clients: { close(): Promise<void> }[] = [];
  private readonly saslBrokers: readonly string[];
  private readonly s3: FakeS3;

  constructor(saslBrokers: readonly string[], s3: FakeS3) {
    this.saslBrokers = saslBrokers;
    this.s3 = s3;
  }

  /** A new log-generator container. */
  generator(): GeneratorHandler {
    return createGeneratorHandler({ openWriter: (connection) => this.open(connection, openKafkaWriter) });
  }

  /** A new compactor container; `wrap` stands between the core and its reader, e.g. to break things in the middle of a run. */
  compactor(wrap: (reader: TopicReader) => TopicReader = (reader) => reader): CompactorHandler {
    return createCompactorHandler({ s3Client: () => this.s3.client, openReader: async (connection) => wrap(await this.open(connection, (c) => openKafkaReader(c))) });
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
  }

  private async open<T extends { close(): Promise<void> }>(connection: KafkaConnection, opener: (connection: KafkaConnection) => Promise<T>): Promise<T> {
    this.requested.push(connection);
    const client = await opener(onCluster(connection, this.saslBrokers));
    this.clients.push(client);
    return client;
  }
}

/**
 * `reader` that runs `interlude` once, after the first batch it hands out, before reading on: the
 * run has planned its ranges and read from the brokers when the interlude breaks them.
 */
export function interruptedAfterFirstBatch(reader: TopicReader, interlude: () => Promise<void>): TopicReader {
  let done = false;
  return pausingAfterBatches(reader, async () => {
    if (done) return;
    done = true;
    await interlude();
  });
}
