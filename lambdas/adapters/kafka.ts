import {
  Admin,
  Consumer,
  FetchIsolationLevels,
  findErrorBy,
  ListOffsetTimestamps,
  ProduceAcks,
  Producer,
  type Base,
  type MessageToProduce,
  type RecordsBatch,
  type SASLOptions,
} from '@platformatic/kafka';
import type { OutgoingRecord, PartitionOffsets, TopicBatch, TopicReader, TopicRecord, TopicWriter } from '../ports/topic.ts';
import { partitionForKey } from './kafka-partitioner.ts';

type FetchedPartition = Awaited<ReturnType<Consumer['fetch']>>['responses'][number]['partitions'][number];

/**
 * The topic ports on Apache Kafka (Amazon MSK in the cloud), with `@platformatic/kafka`.
 *
 * The writer is an idempotent producer with acks=all that puts keyed records where Java clients
 * put them. The reader fetches bounded offset ranges without joining a consumer group (the
 * compactor's checkpoint is the source of truth) and publishes the group's offsets separately, so
 * lag shows in Kafka tooling. Both read committed data only.
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

/** A SASL token and when it expires (epoch ms). */
export interface ExpiringToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** As long as the MSK IAM signer's tokens, so the test broker refreshes on the same cadence as MSK. */
export const UNSECURED_TOKEN_LIFETIME_MS = 15 * 60_000;
/** A token is replaced once it has less than this left, so a session never starts on a token about to expire. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;
// JWT `exp` is in whole seconds, so a token has up to a second less than its lifetime; clients
// reauthenticate at 80% of the session, and brokers refuse reauthentication more often than once
// a second (KIP-368). 3 s tokens keep sessions over 1.6 s.
const MIN_TOKEN_LIFETIME_MS = 3_000;

// Exponential backoff from 100 ms up to 2 s: quick through a partition that is still becoming
// leader, about 20 s in all to ride out a broker restart, and bounded so a wrong address fails.
const RETRIES = 14;
const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;
// Records per produce request stay under this, well below the broker's default message.max.bytes
// (1 MiB), which bounds each partition's batch.
const MAX_SEND_BYTES = 512 * 1024;
const RECORD_OVERHEAD_BYTES = 64;
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
// Opening checks the topic with few retries: a missing topic or a wrong address fails at once.
const OPEN_RETRIES = 2;
const TOPIC_READY_TIMEOUT_MS = 30_000;
const TOPIC_READY_POLL_MS = 100;
// Record batch attribute bits (Kafka protocol).
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL_BATCH = 0x10;
const CONTROL_BATCH = 0x20;
// Control record type (the int16 after the version in its key): 0 aborts a transaction, 1 commits it.
const ABORT_MARKER = 0;

function retryDelay(attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** attempt);
}

/** Opens a producer on the connection's topic: idempotent, acks=all, keyed records partitioned as Java clients do. */
export async function openKafkaWriter(connection: KafkaConnection): Promise<TopicWriter> {
  const producer = new Producer({ ...clientOptions(connection), idempotent: true, acks: ProduceAcks.ALL });
  await closeOnFailure(producer, () => topicMetadata(producer, connection, OPEN_RETRIES));
  return new KafkaTopicWriter(producer, connection);
}

/** How a reader waits for records. */
export interface KafkaReaderOptions {
  /**
   * How long a read keeps asking for records that a fetch did not bring (a new leader catching up)
   * before it ends early. @default READ_STALL_TIMEOUT_MS (20 s, as long as the client rides out a broker restart)
   */
  readonly stallTimeoutMs?: number;
}

/** As long as the retries below take to ride out a broker restart. */
export const READ_STALL_TIMEOUT_MS = 20_000;

/** Opens a reader of the connection's topic that joins no consumer group. */
export async function openKafkaReader(connection: KafkaConnection, options: KafkaReaderOptions = {}): Promise<TopicReader> {
  const client = clientOptions(connection);
  const consumer = new Consumer({ ...client, groupId: `${connection.clientId}-reader`, isolationLevel: FetchIsolationLevels.READ_COMMITTED, maxWaitTime: 0, maxBytes: FETCH_MAX_BYTES });
  // Tracked so that the metadata refreshes behind fetches (after a leader change) include the topic.
  consumer.topics.track(connection.topic);
  const admin = new Admin(client);
  // ListOffsets on a client of its own with one retry: @platformatic/kafka retries a ListOffsets at
  // the leaders it looked up first, all its retries long (about 20 s after a leader moved), before
  // it looks again; the reader retries itself, looking the leaders up before each attempt.
  const offsetsClient = new Consumer({ ...client, retries: 1, groupId: `${connection.clientId}-offsets`, isolationLevel: FetchIsolationLevels.READ_COMMITTED });
  await closeOnFailure(offsetsClient, () => closeOnFailure(consumer, () => closeOnFailure(admin, () => topicMetadata(consumer, connection, OPEN_RETRIES))));
  return new KafkaTopicReader(consumer, admin, offsetsClient, connection, options.stallTimeoutMs ?? READ_STALL_TIMEOUT_MS);
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

class KafkaTopicWriter implements TopicWriter {
  private readonly producer: Producer;
  private readonly connection: KafkaConnection;
  private roundRobin = 0;

  constructor(producer: Producer, connection: KafkaConnection) {
    this.producer = producer;
    this.connection = connection;
  }

  async produce(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const partitions = (await topicMetadata(this.producer, this.connection)).partitionsCount;
    const byPartition = new Map<number, OutgoingRecord[]>();
    for (const record of records) {
      const partition = record.key === null ? this.roundRobin++ % partitions : partitionForKey(record.key, partitions);
      const own = byPartition.get(partition) ?? [];
      own.push(record);
      byPartition.set(partition, own);
    }
    // One partition per request: @platformatic/kafka sends the partitions of a request that share a
    // leader as one group and retries the group at the leader of its first partition, so once their
    // leaders part (a broker restarts and takes its leaderships back) the group fails after every
    // retry. Each partition's requests go one at a time, in order, so per-key order holds; the
    // partitions go at once.
    await Promise.all([...byPartition].map(([partition, own]) => this.produceToPartition(partition, own)));
  }

  private async produceToPartition(partition: number, records: readonly OutgoingRecord[]): Promise<void> {
    for (const chunk of sendChunks(records)) {
      await this.producer.send({ messages: chunk.map((record) => this.message(record, partition)) }).catch((error: Error) => {
        const hint = findErrorBy(error, 'apiId', 'INVALID_TIMESTAMP')
          ? ' Brokers refuse record timestamps further ahead of their clock than message.timestamp.after.max.ms (1 hour by default): produce with a timestamp that is not in the future.'
          : '';
        throw new KafkaBrokerError(`producing ${chunk.length} records to ${this.connection.topic} failed: ${reasonsOf(error)}.${hint}`, { cause: error });
      });
    }
  }

  private message(record: OutgoingRecord, partition: number): MessageToProduce {
    return {
      topic: this.connection.topic,
      // Chosen by the caller, not by the client's default partitioner, so keys land where Java clients and the embedded log put them.
      partition,
      key: record.key === null ? undefined : Buffer.from(record.key),
      value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
      timestamp: BigInt(Math.trunc(record.timestamp)),
    };
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

function* sendChunks(records: readonly OutgoingRecord[]): Iterable<readonly OutgoingRecord[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const size = record.value.byteLength + (record.key?.length ?? 0) + RECORD_OVERHEAD_BYTES;
    if (i > start && bytes + size > MAX_SEND_BYTES) {
      yield records.slice(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  yield records.slice(start);
}

class KafkaTopicReader implements TopicReader {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly offsetsClient: Consumer;
  private readonly connection: KafkaConnection;
  private readonly stallTimeoutMs: number;
  // Fetches share one fetch session per broker, which concurrent requests would corrupt.
  private fetching: Promise<unknown> = Promise.resolve();

  constructor(consumer: Consumer, admin: Admin, offsetsClient: Consumer, connection: KafkaConnection, stallTimeoutMs: number) {
    this.consumer = consumer;
    this.admin = admin;
    this.offsetsClient = offsetsClient;
    this.connection = connection;
    this.stallTimeoutMs = stallTimeoutMs;
  }

  async offsets(): Promise<PartitionOffsets[]> {
    const [earliest, latest] = await Promise.all([this.listOffsets(ListOffsetTimestamps.EARLIEST), this.listOffsets(ListOffsetTimestamps.LATEST)]);
    return latest.map((highWatermark, partition) => ({ partition, earliest: earliest[partition]!, highWatermark }));
  }

  private async listOffsets(timestamp: bigint): Promise<number[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const offsets = await this.offsetsClient.listOffsets({ topics: [this.connection.topic], timestamp });
        return [...offsets.get(this.connection.topic)!].map(Number);
      } catch (error) {
        if (attempt >= RETRIES || findErrorBy(error as Error, 'canRetry', false)) throw error;
        this.offsetsClient.clearMetadata();
        await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt)));
      }
    }
  }

  /**
   * Fetches `[from, to)` batch by batch. A fetch that brings nothing new (a new leader whose high
   * watermark still lags the one the run planned with, an incremental fetch session leaving the
   * partition out) is retried with backoff for `stallTimeoutMs`, asking for fresh metadata each
   * time, before the read ends early; it also ends when retention deleted the next offset. The
   * caller tells the two apart with `offsets()`.
   */
  async *read(partition: number, from: number, to: number): AsyncIterable<TopicBatch> {
    let next = from;
    let stalledMs = 0;
    for (let retry = 0; next < to; ) {
      const fetched = await this.fetchFrom(partition, next, retry > 0);
      if (fetched === 'deleted') return;
      const end = fetched === 'nothing' ? next : Math.min(to, Number(fetched.lastStableOffset));
      const records: TopicRecord[] = [];
      let after = next;
      for (const batch of fetched === 'nothing' ? [] : committedBatches(fetched)) {
        after = Math.max(after, Number(batch.firstOffset) + batch.lastOffsetDelta + 1);
        records.push(...recordsOf(batch, partition, next, end));
      }
      // Markers and aborted records past `end` are read again by the run that reads on from there.
      after = Math.min(after, end);
      if (after > next) {
        yield { records, next: after };
        next = after;
        retry = 0;
        stalledMs = 0;
        continue;
      }
      if (stalledMs >= this.stallTimeoutMs) return;
      const delay = Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** retry++);
      await new Promise((resolve) => setTimeout(resolve, delay));
      stalledMs += delay;
    }
  }

  /**
   * One fetch of `partition` from `offset`: its data; 'nothing' when the leader has nothing at
   * `offset` yet (an incremental fetch session leaves such a partition out, and a leader whose log
   * is shorter answers OFFSET_OUT_OF_RANGE); 'deleted' when retention deleted `offset`.
   */
  private fetchFrom(partition: number, offset: number, refreshMetadata: boolean): Promise<FetchedPartition | 'nothing' | 'deleted'> {
    const fetched = this.fetching.then(async () => {
      const topic = await topicMetadata(this.consumer, this.connection, undefined, refreshMetadata);
      const leader = topic.partitions[partition]?.leader;
      if (leader === undefined) throw new KafkaTopicError(`topic ${this.connection.topic} has no partition ${partition}; it has ${topic.partitionsCount}`);
      try {
        const response = await this.consumer.fetch({
          node: leader,
          topics: [{ topicId: topic.id, partitions: [{ partition, fetchOffset: BigInt(offset), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: FETCH_MAX_BYTES }] }],
        });
        return response.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition) ?? 'nothing';
      } catch (error) {
        if (!findErrorBy(error as Error, 'apiId', 'OFFSET_OUT_OF_RANGE')) throw error;
        return offset < (await this.offsets())[partition]!.earliest ? 'deleted' : 'nothing';
      }
    });
    this.fetching = fetched.catch(() => undefined);
    return fetched;
  }

  async commitOffsets(group: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    if (offsets.size === 0) return;
    // A commit outside any generation (-1), as for a consumer that assigns itself partitions.
    await this.admin.alterConsumerGroupOffsets({
      groupId: group,
      topics: [{ name: this.connection.topic, partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset: BigInt(offset) })) }],
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.consumer.close(), this.admin.close(), this.offsetsClient.close()]);
  }
}

/**
 * The data batches of a fetched partition, without those of aborted transactions. The broker lists
 * the aborted transactions the fetch overlaps (producer, first offset); as Kafka's Java consumer
 * does, a producer is aborting from its transaction's first offset until its abort marker, and its
 * transactional batches in between are dropped. `@platformatic/kafka` filters too, but keeps one
 * aborted transaction per producer and fetch, and any whose abort marker lies beyond the fetch.
 * Control batches (markers) hold no data; the caller still counts their offsets as read.
 */
function* committedBatches(fetched: FetchedPartition): Iterable<RecordsBatch> {
  const aborted = [...(fetched.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborting = new Set<bigint>();
  let nextAborted = 0;
  for (const batch of fetched.records ?? []) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (nextAborted < aborted.length && aborted[nextAborted]!.firstOffset <= lastOffset) aborting.add(aborted[nextAborted++]!.producerId);
    if (batch.attributes & CONTROL_BATCH) {
      if (batch.records[0]?.key?.readInt16BE(2) === ABORT_MARKER) aborting.delete(batch.producerId);
      yield { ...batch, records: [] };
      continue;
    }
    if (batch.attributes & TRANSACTIONAL_BATCH && aborting.has(batch.producerId)) yield { ...batch, records: [] };
    else yield batch;
  }
}

/** The records of `batch` in `[from, end)`: a batch may start before `from` and end after `end`. */
function recordsOf(batch: RecordsBatch, partition: number, from: number, end: number): TopicRecord[] {
  const first = Number(batch.firstOffset);
  const records: TopicRecord[] = [];
  for (const record of batch.records) {
    const offset = first + record.offsetDelta;
    if (offset < from) continue;
    if (offset >= end) break;
    const timestamp = batch.attributes & LOG_APPEND_TIME ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta;
    records.push({ partition, offset, timestamp: Number(timestamp), key: record.key, value: record.value ?? new Uint8Array(0) });
  }
  return records;
}

/** The options every client of `connection` shares: brokers, TLS, and SASL with one token cache. */
function clientOptions(connection: KafkaConnection) {
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

function saslOptions(auth: KafkaAuth): SASLOptions | undefined {
  switch (auth.mechanism) {
    case 'none':
      return undefined;
    case 'msk-iam':
      return { mechanism: 'OAUTHBEARER', token: refreshingToken(() => mskIamToken(auth.region)) };
    case 'oauthbearer-unsecured':
      return { mechanism: 'OAUTHBEARER', token: refreshingToken(async () => unsecuredJwt(auth.principal, Date.now(), auth.tokenLifetimeMs)) };
  }
}

async function mskIamToken(region: string): Promise<ExpiringToken> {
  // Loaded on first use: it brings the AWS SDK credential chain, which other auth modes never need.
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  const { token, expiryTime } = await generateAuthToken({ region });
  return { token, expiresAt: expiryTime };
}

/**
 * A SASL token provider that reuses a token until it has less than `TOKEN_REFRESH_MARGIN_MS`
 * left, then mints a new one (one mint at a time). The client asks again on every
 * (re)authentication, which the broker requires before a session outlives its token (KIP-368).
 */
export function refreshingToken(mint: () => Promise<ExpiringToken>, now: () => number = Date.now): () => Promise<string> {
  let current: ExpiringToken | undefined;
  let minting: Promise<ExpiringToken> | undefined;
  return async () => {
    if (current && current.expiresAt - now() > TOKEN_REFRESH_MARGIN_MS) return current.token;
    minting ??= mint().finally(() => (minting = undefined));
    current = await minting;
    return current.token;
  };
}

/** An unsecured JWT (`alg: none`, claims `sub`, `iat`, `exp`) as Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler` accepts. */
export function unsecuredJwt(principal: string, issuedAt: number, lifetimeMs: number = UNSECURED_TOKEN_LIFETIME_MS): ExpiringToken {
  const iat = Math.floor(issuedAt / 1000);
  const exp = Math.floor((issuedAt + lifetimeMs) / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return { token: `${part({ alg: 'none' })}.${part({ sub: principal, iat, exp })}.`, expiresAt: exp * 1000 };
}

async function topicMetadata(client: Base, connection: KafkaConnection, retries?: number, forceUpdate = false) {
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
function reasonsOf(error: Error): string {
  const leaves = (e: Error): string[] => {
    const nested = [...((e as Partial<AggregateError>).errors ?? []), ...(e.cause instanceof Error ? [e.cause] : [])] as Error[];
    if (nested.length > 0) return nested.flatMap(leaves);
    const { apiId, serverErrorMessage } = e as { apiId?: string; serverErrorMessage?: string };
    const message = (serverErrorMessage ?? e.message).replace(/\.$/, '');
    return [apiId ? `${apiId} (${message})` : message];
  };
  return [...new Set(leaves(error))].join('; ');
}

async function closeOnFailure<T>(client: { close(): Promise<void> }, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
}
