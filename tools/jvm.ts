import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What the harnesses that run a JVM server from Maven Central artifacts share (the Apache Kafka
 * broker, the Trino server): checking Java, fetching the artifacts once into a cache with Maven,
 * launching the JVM and waiting until it answers, and stopping it, also when the caller dies.
 */

export const INSTALL_HINT = 'install Java 17+ and Maven: apt-get install openjdk-17-jdk maven';
const MIN_JAVA = 17;
const POLL_MS = 250;
const STOP_GRACE_MS = 20_000;
const LOG_TAIL_LINES = 40;

/** The error class of one harness: its failures carry it, so its callers can tell them apart. */
export type HarnessErrorClass = new (message: string) => Error;

/** `$XDG_CACHE_HOME/streamlake/<name>` (`~/.cache/…`): where a harness keeps what it fetched between runs. */
export function cacheDirOf(name: string): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'streamlake', name);
}

/** Fails unless `java` on PATH is Java 17 or newer; `product` names what needs it. */
export async function requireJava(product: string, HarnessError: HarnessErrorClass): Promise<void> {
  const { code, output } = await run('java', ['-version']).catch(() => ({ code: -1, output: '' }));
  const major = Number(/version "(?:1\.)?(\d+)/.exec(output)?.[1]);
  if (code !== 0) throw new HarnessError(`java was not found on PATH; ${INSTALL_HINT}`);
  if (!(major >= MIN_JAVA)) throw new HarnessError(`${product} needs Java ${MIN_JAVA}+, found ${output.split('\n')[0]}; ${INSTALL_HINT}`);
}

/**
 * `cacheDir/name`, made by `build` in a staging directory the first time. A marker file written
 * last means "complete", so an interrupted build is redone rather than half used.
 */
export async function cachedBuild(cacheDir: string, name: string, build: (staging: string) => Promise<void>): Promise<string> {
  const target = join(cacheDir, name);
  const marker = join(cacheDir, 'complete');
  if (existsSync(marker)) return target;
  await mkdir(cacheDir, { recursive: true });
  const staging = `${target}.${process.pid}`;
  try {
    await build(staging);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return target;
}

/** Runs Maven in batch mode, quietly; `what` names what it fetches, for the error. */
export async function maven(args: readonly string[], what: string, HarnessError: HarnessErrorClass): Promise<void> {
  const fetched = await run('mvn', ['-B', '-q', ...args]).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new HarnessError(`mvn was not found on PATH; ${INSTALL_HINT}`);
    throw error;
  });
  if (fetched.code !== 0) {
    throw new HarnessError(`Maven could not fetch ${what} from Maven Central (is it reachable? see ~/.m2/settings.xml for mirrors):\n${tail(fetched.output)}`);
  }
}

/**
 * A POM that only declares `dependencies` (`group:artifact:version`), for
 * `dependency:copy-dependencies`; `boms` are imported, so transitive versions are the ones the
 * release itself was built with.
 */
export function dependencyPom(artifactId: string, version: string, dependencies: readonly string[], boms: readonly string[] = []): string {
  const dependency = (coordinates: string, extra = '') => {
    const [group, artifact, v] = coordinates.split(':');
    return `    <dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${v}</version>${extra}</dependency>`;
  };
  const managed = boms.length === 0 ? '' : `  <dependencyManagement>\n    <dependencies>\n${boms.map((bom) => `  ${dependency(bom, '<type>pom</type><scope>import</scope>')}`).join('\n')}\n    </dependencies>\n  </dependencyManagement>\n`;
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamlake</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
${managed}  <dependencies>
${dependencies.map((d) => dependency(d)).join('\n')}
  </dependencies>
</project>
`;
}

/** A port free on loopback now; the server binds it a moment later. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A JVM to launch. */
export interface JavaLaunch {
  /** JVM options, classpath, main class and its arguments. */
  readonly args: readonly string[];
  /** Working directory; the JVM's output goes to `logFile` in it. */
  readonly dir: string;
  readonly logFile: string;
  /** What starts, for messages: "the Kafka broker". */
  readonly product: string;
  /** Where it answers once started, for messages. */
  readonly address: string;
  /** True once it answers. */
  readonly ready: () => Promise<boolean>;
  readonly timeoutMs: number;
  /** Leave it running after this process exits. Otherwise it is killed, and `dir` deleted, when this process exits or is interrupted. */
  readonly detached: boolean;
  readonly HarnessError: HarnessErrorClass;
}

/** Launches a JVM and resolves with its pid once it answers; fails with the end of its log if it exits or stays silent. */
export async function launchJava(launch: JavaLaunch): Promise<number> {
  const logPath = join(launch.dir, launch.logFile);
  const log = openSync(logPath, 'a');
  const child = spawn('java', launch.args, { cwd: launch.dir, detached: launch.detached, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new launch.HarnessError(`could not launch java for ${launch.product}; ${INSTALL_HINT}`);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  if (launch.detached) child.unref();
  else stopOnExit(pid, launch.dir);
  const deadline = Date.now() + launch.timeoutMs;
  while (!(await launch.ready())) {
    if (exited !== undefined) throw new launch.HarnessError(`${launch.product} exited with code ${exited} while starting; its log (${logPath}) ends with:\n${await logTail(logPath)}`);
    if (Date.now() > deadline) {
      await terminate(pid);
      throw new launch.HarnessError(
        `${launch.product} did not answer on ${launch.address} within ${launch.timeoutMs / 1000} s; raise startTimeoutMs on a slow machine. Its log (${logPath}) ends with:\n${await logTail(logPath)}`,
      );
    }
    await sleep(POLL_MS);
  }
  return pid;
}

/** Stops process `pid`: SIGTERM for a clean shutdown, SIGKILL if it has not exited in time. */
export async function terminate(pid: number): Promise<void> {
  running.delete(pid);
  if (!signal(pid, 'SIGTERM')) return;
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) signal(pid, 'SIGKILL');
    await sleep(POLL_MS);
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

// JVMs this process launched attached: killed when it exits or is interrupted, so a failing or
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

/** The last lines of a command's output or a log, for error messages. */
export function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

/** Runs a command to its end; resolves with its exit code and its stdout and stderr interleaved. */
export function run(command: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
