import { Admin, findErrorBy, type Base } from '@platformatic/kafka';
import { MIN_TOKEN_LIFETIME_MS, saslOptions } from './kafka-auth.ts';

/**
 * The topic ports on Apache Kafka (Amazon MSK in the cloud), with `@platformatic/kafka`: the
 * connection, the options every client shares, topic creation and the errors. The writer
 * (`kafka-writer.ts`) is an idempotent producer with acks=all that puts keyed records where Java
 * clients put them. The reader (`kafka-reader.ts`) fetches bounded offset ranges without joining a
 * consumer group (the compactor's checkpoint is the source of truth) and publishes the group's
 * offsets separately, so lag shows in Kafka tooling. Both read committed data only. SASL is in
 * `kafka-auth.ts`.
 */

/** How clients authenticate to the brokers. */
export type KafkaAuth =
  | { readonly mechanism: 'none' }
  /** SASL/OAUTHBEARER with tokens signed by `aws-msk-iam-sasl-signer-js` from the default AWS credential chain; TLS only (MSK port 9098). */
  | { readonly mechanism: 'msk-iam'; readonly region: string }
  /**
   * SASL/OAUTHBEARER with an unsigned JWT for `principal`: the MSK IAM code path against a broker using Kafka's unsecured validator (tests).
   * `tokenLifetimeMs` shortens the tokens so a test sees them expire and get replaced. @default UNSECURED_TOKEN_LIFETIME_MS (15 minutes, as MSK IAM)
   */
  | { readonly mechanism: 'oauthbearer-unsecured'; readonly principal: string; readonly tokenLifetimeMs?: number };

/** Where the topic lives and how to reach it. */
export interface KafkaConnection {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly clientId: string;
  readonly auth: KafkaAuth;
  readonly tls: boolean;
}

/** The connection settings cannot work; the message says which one to change. */
export class KafkaConfigError extends Error {
  override name = 'KafkaConfigError';
}

/** The topic is missing, unreadable, or cannot take the requested shape. */
export class KafkaTopicError extends Error {
  override name = 'KafkaTopicError';
}

/** The brokers refused a request or could not be reached; the message carries their reasons. */
export class KafkaBrokerError extends Error {
  override name = 'KafkaBrokerError';
}



// Exponential backoff from 100 ms up to 2 s: quick through a partition that is still becoming
// leader, about 20 s in all to ride out a broker restart, and bounded so a wrong address fails.
export const RETRIES = 14;
const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;
// Opening checks the topic with few retries: a missing topic or a wrong address fails at once.
export const OPEN_RETRIES = 2;
const TOPIC_READY_TIMEOUT_MS = 30_000;
const TOPIC_READY_POLL_MS = 100;

/** The wait before retry `attempt` (from 0): doubling from 100 ms up to 2 s. */
export function retryDelay(attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** attempt);
}



/** How `ensureKafkaTopic` shapes the topic. */
export interface KafkaTopicShape {
  /** Partitions the topic must have: created with them or grown to them, never shrunk. Unset: an existing topic stays as it is. */
  readonly partitions?: number;
  /** Partitions of a topic created while `partitions` is unset. */
  readonly defaultPartitions: number;
}

/**
 * Creates the connection's topic if absent (replication factor: the cluster's default) or adds
 * partitions up to `shape.partitions`, and waits until every partition has a leader.
 * Resolves to the cluster id and the topic's partition count.
 */
export async function ensureKafkaTopic(connection: KafkaConnection, shape: KafkaTopicShape): Promise<{ clusterId: string; partitions: number }> {
  const admin = new Admin({ ...clientOptions(connection), retries: OPEN_RETRIES });
  const { topic } = connection;
  try {
    const wanted = shape.partitions;
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({ topics: [topic], partitions: wanted ?? shape.defaultPartitions, replicas: -1 }).catch((error: Error) => {
        if (!findErrorBy(error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw error; // created by a concurrent run
      });
    } else if (wanted !== undefined) {
      const current = (await admin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)!.partitionsCount;
      if (wanted < current) throw new KafkaTopicError(`topic ${topic} has ${current} partitions and partitions can grow but never shrink; pass --partitions ${current} or more`);
      if (wanted > current) await admin.createPartitions({ topics: [{ name: topic, count: wanted }] });
    }
    return await waitForLeaders(admin, topic, wanted);
  } catch (error) {
    if (error instanceof KafkaTopicError) throw error;
    throw new KafkaBrokerError(`preparing topic ${topic} on ${connection.brokers.join(',')} failed: ${reasonsOf(error as Error)}. Check the brokers are reachable and let this client create topics.`, { cause: error });
  } finally {
    await admin.close();
  }
}

async function waitForLeaders(admin: Admin, topic: string, partitions: number | undefined): Promise<{ clusterId: string; partitions: number }> {
  const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
  for (;;) {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    const found = metadata.topics.get(topic)!;
    const ready = (partitions === undefined || found.partitionsCount >= partitions) && found.partitions.every((p) => p.leader >= 0);
    if (ready) return { clusterId: metadata.id, partitions: found.partitionsCount };
    if (Date.now() > deadline) throw new KafkaTopicError(`topic ${topic} still has partitions without a leader after ${TOPIC_READY_TIMEOUT_MS / 1000} s; check the brokers' health`);
    await new Promise((resolve) => setTimeout(resolve, TOPIC_READY_POLL_MS));
  }
}



/** The options every client of `connection` shares: brokers, TLS, and SASL with one token cache. */
export function clientOptions(connection: KafkaConnection) {
  if (connection.brokers.length === 0) throw new KafkaConfigError('no Kafka brokers given; pass at least one bootstrap broker as host:port');
  const bad = connection.brokers.find((broker) => !/^[^\s:]+:\d+$/.test(broker));
  if (bad !== undefined) throw new KafkaConfigError(`Kafka broker "${bad}" is not host:port, e.g. localhost:9092`);
  if (connection.auth.mechanism === 'msk-iam' && !connection.tls) {
    throw new KafkaConfigError('MSK IAM authentication runs over TLS only (port 9098); set tls to true');
  }
  const lifetime = connection.auth.mechanism === 'oauthbearer-unsecured' ? connection.auth.tokenLifetimeMs : undefined;
  if (lifetime !== undefined && !(Number.isInteger(lifetime) && lifetime >= MIN_TOKEN_LIFETIME_MS)) {
    throw new KafkaConfigError(`tokenLifetimeMs must be a whole number of at least ${MIN_TOKEN_LIFETIME_MS} ms (brokers refuse reauthenticating more than once a second), got ${lifetime}`);
  }
  const sasl = saslOptions(connection.auth);
  return {
    clientId: connection.clientId,
    bootstrapBrokers: [...connection.brokers],
    retries: RETRIES,
    retryDelay: (client: unknown, _operation: string, attempt: number, _retries: number, error: Error) => {
      // @platformatic/kafka refreshes its metadata between retries after network errors only: after
      // NOT_LEADER_OR_FOLLOWER and the like it would ask the same stale leader until it gives up.
      if (findErrorBy(error, 'hasStaleMetadata', true)) (client as Base).clearMetadata();
      return retryDelay(attempt);
    },
    ...(connection.tls ? { tls: {} } : {}),
    ...(sasl ? { sasl } : {}),
  };
}


/** The topic's metadata as `client` sees it; a missing topic or unreachable brokers become a KafkaTopicError that says what to check. */
export async function topicMetadata(client: Base, connection: KafkaConnection, retries?: number, forceUpdate = false) {
  try {
    return (await client.metadata({ topics: [connection.topic], forceUpdate, ...(retries === undefined ? {} : { retries }) })).topics.get(connection.topic)!;
  } catch (error) {
    throw new KafkaTopicError(
      `cannot read topic ${connection.topic} on ${connection.brokers.join(',')}: ${reasonsOf(error as Error)}. Check the brokers are reachable and the topic exists (\`streamlake local --kafka\` creates it).`,
      { cause: error },
    );
  }
}

/** The innermost reasons of a client error: the library nests the brokers' answers in AggregateErrors. */
export function reasonsOf(error: Error): string {
  const leaves = (e: Error): string[] => {
    const nested = [...((e as Partial<AggregateError>).errors ?? []), ...(e.cause instanceof Error ? [e.cause] : [])] as Error[];
    if (nested.length > 0) return nested.flatMap(leaves);
    const { apiId, serverErrorMessage } = e as { apiId?: string; serverErrorMessage?: string };
    const message = (serverErrorMessage ?? e.message).replace(/\.$/, '');
    return [apiId ? `${apiId} (${message})` : message];
  };
  return [...new Set(leaves(error))].join('; ');
}

/** `work`'s result; `client` is closed when it fails. */
export async function closeOnFailure<T>(client: { close(): Promise<void> }, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
}
