import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirOf, freePort, requireJava, terminate } from '../jvm.ts';
import { BrokerError, formatStorage, KAFKA_VERSION, kafkaClasspath, launchNode, randomClusterId, writeNodeConfig, type NodePorts } from './server.ts';

export { BrokerError, KAFKA_VERSION } from './server.ts';

/**
 * A single-node Apache Kafka broker (KRaft, controller and broker in one process) for tests and
 * local runs, started from the release's jars on Maven Central: no Docker, no Kafka install.
 * `startCluster()` in `cluster.ts` starts three such nodes replicating each other.
 */

const JVM_OPTIONS = ['-Xmx512m'];

export interface BrokerOptions {
  /** Where the Kafka jars are kept between runs. @default `$XDG_CACHE_HOME/streamlake/kafka-<KAFKA_VERSION>` (`~/.cache/…`) */
  readonly cacheDir?: string;
  /** How long to wait for the broker to answer before giving up. @default 90_000 */
  readonly startTimeoutMs?: number;
  /**
   * Longest a SASL session may last before the client must reauthenticate (the SASL listener's
   * `connections.max.reauth.ms`), so tests exercise token refresh. @default unset: sessions last as long as their connection
   */
  readonly saslSessionMs?: number;
  /** Leave the broker running after this process exits (`npm run kafka:start`). @default false: stopped on exit and on SIGINT/SIGTERM */
  readonly detached?: boolean;
}

/** How long each step of `startBroker` took, in milliseconds. */
export interface BrokerTimings {
  /** Checking or fetching the jars: long on the first run only. */
  readonly jarsMs: number;
  readonly formatMs: number;
  /** From launching the JVM to the broker answering metadata requests. */
  readonly startMs: number;
}

/** A running broker. */
export interface Broker {
  /** PLAINTEXT listener, `localhost:<port>`. */
  readonly bootstrap: string;
  /** SASL_PLAINTEXT listener with OAUTHBEARER and the broker's unsecured JWT validator, `localhost:<port>`. */
  readonly saslBootstrap: string;
  /** Temporary directory holding the configuration, the log segments and `broker.log`. */
  readonly dir: string;
  readonly pid: number;
  readonly timings: BrokerTimings;
  /** Stops the broker (SIGTERM, then SIGKILL after a grace period) and deletes its directory. */
  stop(): Promise<void>;
  /** Stops the broker and starts it again on the same ports and data, as a broker crash-restart would. */
  restart(): Promise<void>;
}

/**
 * Starts a fresh broker: fetches the jars once into the cache, formats KRaft storage with a random
 * cluster id in a new temporary directory, launches the JVM on free loopback ports and resolves
 * once the broker answers.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  await requireJava(`Kafka ${KAFKA_VERSION}`, BrokerError);
  let started = Date.now();
  const classpath = await kafkaClasspath(options.cacheDir ?? cacheDirOf(`kafka-${KAFKA_VERSION}`));
  const jarsMs = Date.now() - started;

  const dir = await mkdtemp(join(tmpdir(), 'streamlake-kafka-'));
  const ports: NodePorts = { plaintext: await freePort(), sasl: await freePort(), controller: await freePort() };
  await writeNodeConfig({ nodeId: 1, ports, voters: `1@localhost:${ports.controller}`, dir, saslSessionMs: options.saslSessionMs, settings: SINGLE_NODE_SETTINGS });
  started = Date.now();
  await formatStorage(classpath, dir, JVM_OPTIONS, randomClusterId());
  const formatMs = Date.now() - started;

  const bootstrap = `localhost:${ports.plaintext}`;
  const launch = () =>
    launchNode({ classpath, dir, ownerDir: dir, jvmOptions: JVM_OPTIONS, bootstrap, product: 'the Kafka broker', timeoutMs: options.startTimeoutMs ?? 90_000, detached: options.detached ?? false });
  started = Date.now();
  let pid = await launch();
  const timings = { jarsMs, formatMs, startMs: Date.now() - started };

  return {
    bootstrap,
    saslBootstrap: `localhost:${ports.sasl}`,
    dir,
    get pid() {
      return pid;
    },
    timings,
    async stop() {
      await terminate(pid);
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await terminate(pid);
      pid = await launch();
    },
  };
}

// One replica of everything: there is no other broker to copy to.
const SINGLE_NODE_SETTINGS = [
  'offsets.topic.replication.factor=1',
  'transaction.state.log.replication.factor=1',
  'transaction.state.log.min.isr=1',
  'share.coordinator.state.topic.replication.factor=1',
  'share.coordinator.state.topic.min.isr=1',
];
