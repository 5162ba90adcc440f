import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheDirOf, freePort, requireJava } from '../jvm.ts';
import { KafkaNode, type ClusterNode } from './cluster-node.ts';
import { clusterState, type ClusterState, type PartitionState } from './cluster-state.ts';
import { BrokerError, formatStorage, KAFKA_VERSION, kafkaClasspath, randomClusterId, writeNodeConfig, type NodePorts } from './server.ts';

export type { ClusterNode } from './cluster-node.ts';
export type { PartitionState } from './cluster-state.ts';

/**
 * A three-node Apache Kafka cluster (KRaft; each node is a broker and one of the three voters of
 * the metadata quorum) for failover tests: nodes can be killed (SIGKILL, as a crash), stopped and
 * started again on the same ports and data. Every topic gets three replicas and acks=all writes
 * need two in sync, as a production cluster across three zones; failure detection is tuned down
 * from minutes and seconds to about three seconds (see `CLUSTER_SETTINGS`).
 */

const NODES = 3;
const JVM_OPTIONS = [
  // Three JVMs share the machine: 384 MiB each is plenty for test traffic.
  '-Xmx384m',
  // The C1 compiler only: on two cores, three JVMs running the C2 compiler as they start take
  // 15–18 s to answer, and 4–5 s without it. Test traffic never needs C2's faster code.
  '-XX:TieredStopAtLevel=1',
];
const HEALTHY_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

// Each line says why; everything else is `server.ts`'s, as for the single broker.
const CLUSTER_SETTINGS = [
  // Three replicas of every topic, and acks=all writes need two of them in sync: one node may
  // die without an acknowledged record being lost or producers stopping.
  'default.replication.factor=3',
  'min.insync.replicas=2',
  'offsets.topic.replication.factor=3',
  'transaction.state.log.replication.factor=3',
  'transaction.state.log.min.isr=2',
  'share.coordinator.state.topic.replication.factor=3',
  'share.coordinator.state.topic.min.isr=2',
  // Only an in-sync replica may become leader: an out-of-sync one would silently drop acknowledged
  // records. Kafka's default, stated because the tests' claims rest on it.
  'unclean.leader.election.enable=false',
  // A crashed broker is noticed in 3 s rather than 9: brokers heartbeat the active controller
  // every 500 ms (default 2 s), and one silent for 3 s is fenced, its partitions led by another
  // in-sync replica.
  'broker.heartbeat.interval.ms=500',
  'broker.session.timeout.ms=3000',
  // The metadata quorum elects a new active controller about 2 s after the old one went silent
  // (defaults: 2 s without a fetch from the leader, then up to 1 s of election timeout and backoff).
  'controller.quorum.fetch.timeout.ms=1500',
  'controller.quorum.election.timeout.ms=500',
  'controller.quorum.election.backoff.max.ms=500',
  // A follower that stops fetching (hung, or restarted and still catching up) leaves the ISR
  // after 5 s rather than 30 s, so it holds up neither acks=all writes nor the high watermark.
  'replica.lag.time.max.ms=5000',
  // A restarted node takes its preferred leaderships back within seconds (default: 5 minutes,
  // and only past 10% imbalance), so every test starts from the same balanced layout.
  'auto.leader.rebalance.enable=true',
  'leader.imbalance.check.interval.seconds=2',
  'leader.imbalance.per.broker.percentage=0',
];

export interface ClusterOptions {
  /** Where the Kafka jars are kept between runs. @default `$XDG_CACHE_HOME/streamlake/kafka-<KAFKA_VERSION>` (`~/.cache/…`) */
  readonly cacheDir?: string;
  /** How long to wait for the nodes to answer, on start and on each restart. @default 90_000 */
  readonly startTimeoutMs?: number;
  /** `connections.max.reauth.ms` of the SASL listeners. @default unset: sessions last as long as their connection */
  readonly saslSessionMs?: number;
}

/** How long each step of `startCluster` took, in milliseconds. */
export interface ClusterTimings {
  /** Checking or fetching the jars: long on the first run only. */
  readonly jarsMs: number;
  /** Formatting the three nodes' storage, in parallel. */
  readonly formatMs: number;
  /** From launching the three JVMs to a healthy cluster: every node registered, every replica in sync. */
  readonly startMs: number;
}

/** A running cluster. */
export interface Cluster {
  /** Every node's PLAINTEXT listener, comma-separated (`--kafka` takes it as is). */
  readonly bootstrap: string;
  /** Every node's PLAINTEXT listener. */
  readonly brokers: readonly string[];
  /** Every node's SASL_PLAINTEXT listener. */
  readonly saslBrokers: readonly string[];
  readonly nodes: readonly ClusterNode[];
  /** Temporary directory holding one directory per node. */
  readonly dir: string;
  readonly timings: ClusterTimings;
  /** The node with `node.id` `id`. */
  node(id: number): ClusterNode;
  /** Leader, replicas and ISR of each partition of `topic`, fresh from a running node. */
  partitions(topic: string): Promise<PartitionState[]>;
  /** The node leading `partition` of `topic` now. */
  leaderOf(topic: string, partition: number): Promise<ClusterNode>;
  /** The active controller: the leader of the metadata quorum. */
  activeController(): Promise<ClusterNode>;
  /** Resolves with the active controller once it is not `previous` (after `previous` died, once the quorum has elected another). */
  waitForNewController(previous: ClusterNode, timeoutMs?: number): Promise<ClusterNode>;
  /** Resolves with the partition's leader once it is not `previous` (after `previous` died, once the controller has elected another). */
  waitForNewLeader(topic: string, partition: number, previous: ClusterNode, timeoutMs?: number): Promise<ClusterNode>;
  /** What keeps the cluster from full health now (empty when healthy): a node down or unregistered, a replica out of sync, a leader not preferred, a voter behind. */
  problems(): Promise<string[]>;
  /** Starts the nodes that are down, then waits until `problems()` is empty. */
  restoreHealth(timeoutMs?: number): Promise<void>;
  /** Kills every node and deletes the cluster's directory. */
  stop(): Promise<void>;
}

/**
 * Starts a fresh three-node cluster: fetches the jars once into the cache, formats the nodes'
 * storage with one random cluster id, launches the three JVMs on free loopback ports and resolves
 * once the cluster is healthy. The nodes are killed, and their data deleted, when this process exits.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  await requireJava(`Kafka ${KAFKA_VERSION}`, BrokerError);
  let started = Date.now();
  const classpath = await kafkaClasspath(options.cacheDir ?? cacheDirOf(`kafka-${KAFKA_VERSION}`));
  const jarsMs = Date.now() - started;

  const dir = await mkdtemp(join(tmpdir(), 'streamlake-kafka-cluster-'));
  const ports: NodePorts[] = [];
  for (let i = 0; i < NODES; i++) ports.push({ plaintext: await freePort(), sasl: await freePort(), controller: await freePort() });
  const voters = ports.map((p, i) => `${i + 1}@localhost:${p.controller}`).join(',');
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const nodes = ports.map((p, i) => new KafkaNode({ id: i + 1, ports: p, dir: join(dir, `node-${i + 1}`), ownerDir: dir, classpath, jvmOptions: JVM_OPTIONS, timeoutMs }));
  await Promise.all(nodes.map((n) => writeNodeConfig({ nodeId: n.id, ports: n.ports, voters, dir: n.dir, saslSessionMs: options.saslSessionMs, settings: CLUSTER_SETTINGS })));
  started = Date.now();
  const id = randomClusterId();
  await Promise.all(nodes.map((n) => formatStorage(classpath, n.dir, JVM_OPTIONS, id)));
  const formatMs = Date.now() - started;

  started = Date.now();
  // Together: a node answers only once the quorum (two of the three) has elected a controller.
  const launched = await Promise.allSettled(nodes.map((n) => n.start()));
  const failed = launched.find((r) => r.status === 'rejected');
  const cluster = new KafkaCluster(nodes, dir, { jarsMs, formatMs, startMs: 0 });
  if (failed) {
    await cluster.stop();
    throw failed.reason;
  }
  try {
    await cluster.restoreHealth();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  cluster.timings = { jarsMs, formatMs, startMs: Date.now() - started };
  return cluster;
}

class KafkaCluster implements Cluster {
  readonly nodes: readonly KafkaNode[];
  readonly dir: string;
  timings: ClusterTimings;

  constructor(nodes: readonly KafkaNode[], dir: string, timings: ClusterTimings) {
    this.nodes = nodes;
    this.dir = dir;
    this.timings = timings;
  }

  get brokers(): readonly string[] {
    return this.nodes.map((n) => n.bootstrap);
  }

  get saslBrokers(): readonly string[] {
    return this.nodes.map((n) => n.saslBootstrap);
  }

  get bootstrap(): string {
    return this.brokers.join(',');
  }

  node(id: number): KafkaNode {
    const found = this.nodes.find((n) => n.id === id);
    if (!found) throw new BrokerError(`the cluster has no node ${id}; its nodes are ${this.nodes.map((n) => n.id).join(', ')}`);
    return found;
  }

  /** The cluster as the running nodes see it. */
  private async state(topics?: readonly string[]): Promise<ClusterState> {
    const running = this.nodes.filter((n) => n.running).map((n) => n.bootstrap);
    if (running.length === 0) throw new BrokerError('every node of the cluster is down');
    return clusterState(running, topics);
  }

  async partitions(topic: string): Promise<PartitionState[]> {
    const state = await this.state([topic]);
    const partitions = state.topics.get(topic);
    if (!partitions) throw new BrokerError(`topic ${topic} does not exist on the cluster`);
    return partitions;
  }

  async leaderOf(topic: string, partition: number): Promise<KafkaNode> {
    const state = (await this.partitions(topic))[partition];
    if (state === undefined || state.leader < 0) throw new BrokerError(`partition ${partition} of ${topic} has no leader`);
    return this.node(state.leader);
  }

  async activeController(): Promise<KafkaNode> {
    const { quorum } = await this.state([]);
    if (quorum.leader < 0) throw new BrokerError('the metadata quorum has no leader');
    return this.node(quorum.leader);
  }

  async waitForNewController(previous: ClusterNode, timeoutMs = 30_000): Promise<KafkaNode> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.state([])
        .then((state) => state.quorum.leader)
        .catch(() => -1);
      if (leader >= 0 && leader !== previous.id) return this.node(leader);
      if (Date.now() > deadline) throw new BrokerError(`the metadata quorum is still led by node ${previous.id} or leaderless after ${timeoutMs / 1000} s`);
      await sleep(POLL_MS);
    }
  }

  async waitForNewLeader(topic: string, partition: number, previous: ClusterNode, timeoutMs = 30_000): Promise<KafkaNode> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = (await this.partitions(topic).catch(() => []))[partition]?.leader;
      if (leader !== undefined && leader >= 0 && leader !== previous.id) return this.node(leader);
      if (Date.now() > deadline) throw new BrokerError(`partition ${partition} of ${topic} still led by node ${previous.id} or leaderless after ${timeoutMs / 1000} s`);
      await sleep(POLL_MS);
    }
  }

  async problems(): Promise<string[]> {
    const down = this.nodes.filter((n) => !n.running).map((n) => `node ${n.id} is down`);
    if (down.length === this.nodes.length) return down;
    const state = await this.state().catch((error: Error) => error);
    if (state instanceof Error) return [...down, `the cluster does not answer: ${state.message}`];
    const problems = [...down];
    for (const n of this.nodes) if (!state.brokers.includes(n.id)) problems.push(`node ${n.id} is not a registered, unfenced broker`);
    for (const [topic, partitions] of state.topics) {
      for (const p of partitions) {
        const outOfSync = p.replicas.filter((r) => !p.isr.includes(r));
        if (outOfSync.length > 0) problems.push(`${topic}-${p.partition}: replicas ${outOfSync.join(', ')} out of sync`);
        if (p.leader !== p.replicas[0]) problems.push(`${topic}-${p.partition}: led by ${p.leader}, not by its preferred leader ${p.replicas[0]}`);
      }
    }
    if (state.quorum.leader < 0) problems.push('the metadata quorum has no leader');
    for (const voter of state.quorum.voters) if (!voter.caughtUp) problems.push(`controller ${voter.id} is behind the metadata log`);
    return problems;
  }

  async restoreHealth(timeoutMs = HEALTHY_TIMEOUT_MS): Promise<void> {
    await Promise.all(this.nodes.filter((n) => !n.running).map((n) => n.start()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problems = await this.problems();
      if (problems.length === 0) return;
      if (Date.now() > deadline) throw new BrokerError(`the cluster is not healthy after ${timeoutMs / 1000} s: ${problems.join('; ')}. Node logs: ${this.nodes.map((n) => join(n.dir, 'broker.log')).join(', ')}`);
      await sleep(POLL_MS * 2);
    }
  }

  async stop(): Promise<void> {
    // Killed, not shut down: the data goes with them, and a controlled shutdown of the last nodes
    // waits in vain for a quorum the others took away (20 s each before the SIGKILL).
    await Promise.all(this.nodes.map((n) => n.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
