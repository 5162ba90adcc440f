import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { cachedBuild, dependencyPom, launchJava, maven, run, tail } from '../jvm.ts';

/**
 * What the single broker (`broker.ts`) and the three-node cluster (`cluster.ts`) share: the
 * release's jars, a KRaft node's configuration, formatting its storage and launching its JVM.
 *
 * 4.1.x because it is the newest line Amazon MSK runs (`4.1.x.kraft`), it is inside the range
 * `@platformatic/kafka` is tested against (3.5 – 4.2), and its broker runs on Java 17.
 */
export const KAFKA_VERSION = '4.1.2';
const LOG4J_VERSION = '2.25.3'; // the log4j Kafka 4.1.2 depends on; its SLF4J binding routes the broker's logs

/** Java or Maven is missing or too old, the jars could not be fetched, or a broker would not start. */
export class BrokerError extends Error {
  override name = 'BrokerError';
}

/** The loopback ports of one KRaft node. */
export interface NodePorts {
  readonly plaintext: number;
  readonly sasl: number;
  readonly controller: number;
}

/** One KRaft node (combined broker and controller) to configure. */
export interface NodeConfig {
  readonly nodeId: number;
  readonly ports: NodePorts;
  /** `controller.quorum.voters`: `id@host:port` of every controller. */
  readonly voters: string;
  /** The node's directory: its configuration, `data/` and `broker.log`. */
  readonly dir: string;
  /** `connections.max.reauth.ms` of the SASL listener, when set. */
  readonly saslSessionMs: number | undefined;
  /** Further `key=value` lines: replication, timeouts. */
  readonly settings: readonly string[];
}

/** The jars of the pinned release, fetched with Maven into `cacheDir` the first time; resolves to the classpath. */
export async function kafkaClasspath(cacheDir: string): Promise<string> {
  const libs = await cachedBuild(cacheDir, 'libs', async (staging) => {
    const pom = join(cacheDir, 'pom.xml');
    await writeFile(pom, dependencyPom('kafka-broker-harness', KAFKA_VERSION, [`org.apache.kafka:kafka_2.13:${KAFKA_VERSION}`, `org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}`]));
    await maven(['-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'], `Apache Kafka ${KAFKA_VERSION}`, BrokerError);
  });
  return `${libs}/*`;
}

/** Writes `server.properties` and `log4j2.properties` into the node's directory. */
export async function writeNodeConfig(node: NodeConfig): Promise<void> {
  await mkdir(node.dir, { recursive: true });
  await writeFile(join(node.dir, 'server.properties'), serverProperties(node));
  await writeFile(join(node.dir, 'log4j2.properties'), LOG4J_PROPERTIES);
}

function serverProperties({ nodeId, ports, voters, dir, saslSessionMs, settings }: NodeConfig): string {
  const lines = [
    'process.roles=broker,controller',
    `node.id=${nodeId}`,
    `controller.quorum.voters=${voters}`,
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
    'offsets.topic.num.partitions=1',
    // 50 by default: the first transactional producer would wait for 50 partitions to be created.
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    // Tests produce records with simulated, often past, timestamps: time-based retention would
    // delete them under the test's feet. Tests that need retention set it on their topic.
    'log.retention.ms=-1',
    // 128 MiB by default, taken from the heap when the log cleaner starts: too much of a small heap.
    'log.cleaner.dedupe.buffer.size=16777216',
    ...settings,
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

function javaArgs(classpath: string, dir: string, jvmOptions: readonly string[], main: string, ...args: string[]): string[] {
  return [...jvmOptions, `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`, '-cp', classpath, main, ...args];
}

/** Formats the node's KRaft storage for cluster `clusterId`. */
export async function formatStorage(classpath: string, dir: string, jvmOptions: readonly string[], clusterId: string): Promise<void> {
  const formatted = await run('java', javaArgs(classpath, dir, jvmOptions, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', join(dir, 'server.properties')));
  if (formatted.code !== 0) throw new BrokerError(`formatting KRaft storage in ${dir} failed:\n${tail(formatted.output)}`);
}

/** A random Kafka cluster id: 16 bytes in URL-safe base64, not starting with '-' (the CLI would read it as a flag). */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A node's JVM to launch. */
export interface NodeLaunch {
  readonly classpath: string;
  /** The node's directory (configuration, data, `broker.log`). */
  readonly dir: string;
  /** Deleted, with everything in it, if this process exits with the JVM still running: the node's directory or one holding it. */
  readonly ownerDir: string;
  /** Heap size and the like. */
  readonly jvmOptions: readonly string[];
  /** The node's PLAINTEXT address: it is up once it answers there. */
  readonly bootstrap: string;
  readonly product: string;
  readonly timeoutMs: number;
  readonly detached: boolean;
}

/** Launches a node's JVM; resolves with its pid once it answers metadata requests. */
export function launchNode(launch: NodeLaunch): Promise<number> {
  return launchJava({
    args: javaArgs(launch.classpath, launch.dir, launch.jvmOptions, 'kafka.Kafka', join(launch.dir, 'server.properties')),
    dir: launch.ownerDir,
    logFile: join(launch.dir, 'broker.log').slice(launch.ownerDir.length + 1),
    product: launch.product,
    address: launch.bootstrap,
    ready: () => answers(launch.bootstrap),
    timeoutMs: launch.timeoutMs,
    detached: launch.detached,
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
