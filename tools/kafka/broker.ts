import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';

/**
 * A single-node Apache Kafka broker (KRaft, controller and broker in one process) for tests and
 * local runs, started from the release's jars on Maven Central: no Docker, no Kafka install.
 *
 * 4.1.x because it is the newest line Amazon MSK runs (`4.1.x.kraft`), it is inside the range
 * `@platformatic/kafka` is tested against (3.5 – 4.2), and its broker runs on Java 17.
 */
export const KAFKA_VERSION = '4.1.2';
const LOG4J_VERSION = '2.25.3'; // the log4j Kafka 4.1.2 depends on; its SLF4J binding routes the broker's logs

const INSTALL_HINT = 'install Java 17+ and Maven: apt-get install openjdk-17-jdk maven';
const MIN_JAVA = 17;
const HEAP = '-Xmx512m';
const READY_POLL_MS = 250;
const STOP_GRACE_MS = 20_000;
const LOG_TAIL_LINES = 40;

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
  await requireJava();
  let started = Date.now();
  const classpath = await kafkaClasspath(options.cacheDir ?? defaultCacheDir());
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
      running.delete(pid);
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await terminate(pid);
      running.delete(pid);
      pid = await launch(classpath, dir, bootstrap, timeoutMs, detached);
    },
  };
}

/** Stops the broker process `pid`: SIGTERM for a clean shutdown, SIGKILL if it has not exited in time. */
export async function terminate(pid: number): Promise<void> {
  if (!signal(pid, 'SIGTERM')) return;
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) signal(pid, 'SIGKILL');
    await sleep(READY_POLL_MS);
  }
}

/** True while process `pid` exists. */
export function isAlive(pid: number): boolean {
  return signal(pid, 0);
}

function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'streamlake', `kafka-${KAFKA_VERSION}`);
}

async function requireJava(): Promise<void> {
  const { code, output } = await run('java', ['-version']).catch(() => ({ code: -1, output: '' }));
  const major = Number(/version "(?:1\.)?(\d+)/.exec(output)?.[1]);
  if (code !== 0) throw new BrokerError(`java was not found on PATH; ${INSTALL_HINT}`);
  if (!(major >= MIN_JAVA)) throw new BrokerError(`Kafka ${KAFKA_VERSION} needs Java ${MIN_JAVA}+, found ${output.split('\n')[0]}; ${INSTALL_HINT}`);
}

/**
 * The jars of the pinned release in `cacheDir`, fetched with Maven the first time. A marker file
 * written last means "complete", so an interrupted download is redone rather than half used.
 */
async function kafkaClasspath(cacheDir: string): Promise<string> {
  const libs = join(cacheDir, 'libs');
  const marker = join(cacheDir, 'complete');
  if (existsSync(marker)) return `${libs}/*`;
  await mkdir(cacheDir, { recursive: true });
  const pom = join(cacheDir, 'pom.xml');
  const staging = `${libs}.${process.pid}`;
  await writeFile(pom, brokerPom());
  const fetched = await run('mvn', ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime']).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new BrokerError(`mvn was not found on PATH; ${INSTALL_HINT}`);
    throw error;
  });
  if (fetched.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new BrokerError(`Maven could not fetch Apache Kafka ${KAFKA_VERSION} from Maven Central (is it reachable? see ~/.m2/settings.xml for mirrors):\n${tail(fetched.output)}`);
  }
  await rm(libs, { recursive: true, force: true });
  await rename(staging, libs);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return `${libs}/*`;
}

function brokerPom(): string {
  const dependency = (group: string, artifact: string, version: string) =>
    `    <dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></dependency>`;
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamlake</groupId>
  <artifactId>kafka-broker-harness</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
${dependency('org.apache.kafka', 'kafka_2.13', KAFKA_VERSION)}
${dependency('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

/** A port free on loopback now; the broker binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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

async function launch(classpath: string, dir: string, bootstrap: string, timeoutMs: number, detached: boolean): Promise<number> {
  const logPath = join(dir, 'broker.log');
  const log = openSync(logPath, 'a');
  const child = spawn('java', javaArgs(classpath, dir, 'kafka.Kafka', join(dir, 'server.properties')), { cwd: dir, detached, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new BrokerError(`could not launch java for the broker; ${INSTALL_HINT}`);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  if (detached) child.unref();
  else stopOnExit(pid, dir);
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(bootstrap))) {
    if (exited !== undefined) throw new BrokerError(`the Kafka broker exited with code ${exited} while starting; its log (${logPath}) ends with:\n${await logTail(logPath)}`);
    if (Date.now() > deadline) {
      await terminate(pid);
      throw new BrokerError(`the Kafka broker did not answer on ${bootstrap} within ${timeoutMs / 1000} s; raise startTimeoutMs on a slow machine. Its log (${logPath}) ends with:\n${await logTail(logPath)}`);
    }
    await sleep(READY_POLL_MS);
  }
  return pid;
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

// Brokers this process started attached: killed when it exits or is interrupted, so a failing or
// interrupted test run leaves no JVM behind.
const running = new Map<number, string>();
let hooksInstalled = false;

function stopOnExit(pid: number, dir: string): void {
  running.set(pid, dir);
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      // Alone on this signal, the listener replaced Node's default of exiting: restore it.
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function killAll(): void {
  for (const [pid, dir] of running) {
    signal(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

async function logTail(path: string): Promise<string> {
  return tail(await readFile(path, 'utf8').catch(() => '(no log)'));
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

function run(command: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
