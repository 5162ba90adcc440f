import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { cacheDirOf, cachedBuild, dependencyPom, freePort, launchJava, maven, requireJava, run, tail, terminate } from '../jvm.ts';

/**
 * A single-node Apache Kafka broker (KRaft, controller and broker in one process) for tests and
 * local runs, started from the release's jars on Maven Central: no Docker, no Kafka install.
 *
 * 4.1.x because it is the newest line Amazon MSK runs (`4.1.x.kraft`), it is inside the range
 * `@platformatic/kafka` is tested against (3.5 – 4.2), and its broker runs on Java 17.
 */
export const KAFKA_VERSION = '4.1.2';
const LOG4J_VERSION = '2.25.3'; // the log4j Kafka 4.1.2 depends on; its SLF4J binding routes the broker's logs

const HEAP = '-Xmx512m';

/** Java or Maven is missing or too old, the jars could not be fetched, or the broker would not start. */
export class BrokerError extends Error {
  override name = 'BrokerError';
}

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

interface Ports {
  readonly plaintext: number;
  readonly sasl: number;
  readonly controller: number;
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
  const ports: Ports = { plaintext: await freePort(), sasl: await freePort(), controller: await freePort() };
  await writeFile(join(dir, 'server.properties'), serverProperties(dir, ports, options.saslSessionMs));
  await writeFile(join(dir, 'log4j2.properties'), LOG4J_PROPERTIES);
  started = Date.now();
  await formatStorage(classpath, dir);
  const formatMs = Date.now() - started;

  const bootstrap = `localhost:${ports.plaintext}`;
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const detached = options.detached ?? false;
  started = Date.now();
  let pid = await launch(classpath, dir, bootstrap, timeoutMs, detached);
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
      pid = await launch(classpath, dir, bootstrap, timeoutMs, detached);
    },
  };
}

/** The jars of the pinned release, fetched with Maven into `cacheDir` the first time. */
async function kafkaClasspath(cacheDir: string): Promise<string> {
  const libs = await cachedBuild(cacheDir, 'libs', async (staging) => {
    const pom = join(cacheDir, 'pom.xml');
    await writeFile(pom, dependencyPom('kafka-broker-harness', KAFKA_VERSION, [`org.apache.kafka:kafka_2.13:${KAFKA_VERSION}`, `org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}`]));
    await maven(['-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'], `Apache Kafka ${KAFKA_VERSION}`, BrokerError);
  });
  return `${libs}/*`;
}

function serverProperties(dir: string, ports: Ports, saslSessionMs: number | undefined): string {
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@localhost:${ports.controller}`,
    `listeners=PLAINTEXT://localhost:${ports.plaintext},SASL_PLAINTEXT://localhost:${ports.sasl},CONTROLLER://localhost:${ports.controller}`,
    `advertised.listeners=PLAINTEXT://localhost:${ports.plaintext},SASL_PLAINTEXT://localhost:${ports.sasl}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    // OAUTHBEARER with Kafka's built-in unsecured JWT validator: the client runs the same SASL
    // code path as with MSK IAM, against a token it can mint itself.
    'listener.name.sasl_plaintext.sasl.enabled.mechanisms=OAUTHBEARER',
    'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";',
    ...(saslSessionMs === undefined ? [] : [`listener.name.sasl_plaintext.oauthbearer.connections.max.reauth.ms=${saslSessionMs}`]),
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    // Tests produce records with simulated, often past, timestamps: time-based retention would
    // delete them under the test's feet. Tests that need retention set it on their topic.
    'log.retention.ms=-1',
  ];
  return `${lines.join('\n')}\n`;
}

const LOG4J_PROPERTIES = `rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
`;

function javaArgs(classpath: string, dir: string, main: string, ...args: string[]): string[] {
  return [HEAP, `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`, '-cp', classpath, main, ...args];
}

async function formatStorage(classpath: string, dir: string): Promise<void> {
  const formatted = await run('java', javaArgs(classpath, dir, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', join(dir, 'server.properties')));
  if (formatted.code !== 0) throw new BrokerError(`formatting KRaft storage in ${dir} failed:\n${tail(formatted.output)}`);
}

/** A random Kafka cluster id: 16 bytes in URL-safe base64, not starting with '-' (the CLI would read it as a flag). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function launch(classpath: string, dir: string, bootstrap: string, timeoutMs: number, detached: boolean): Promise<number> {
  return launchJava({
    args: javaArgs(classpath, dir, 'kafka.Kafka', join(dir, 'server.properties')),
    dir,
    logFile: 'broker.log',
    product: 'the Kafka broker',
    address: bootstrap,
    ready: () => answers(bootstrap),
    timeoutMs,
    detached,
    HarnessError: BrokerError,
  });
}

/** True once the broker serves metadata on `bootstrap` and lists itself. */
async function answers(bootstrap: string): Promise<boolean> {
  const admin = new Admin({ clientId: 'streamlake-broker-harness', bootstrapBrokers: [bootstrap], retries: 0, connectTimeout: 1_000, requestTimeout: 2_000 });
  try {
    const metadata = await admin.metadata({ topics: [] });
    return metadata.brokers.size > 0;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => undefined);
  }
}
