import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirOf, cachedBuild, dependencyPom, freePort, INSTALL_HINT, launchJava, maven, requireJava, run, tail, terminate } from '../jvm.ts';

/**
 * An S3-compatible server for tests: S3Proxy on its in-memory backend, started from Maven Central
 * jars (about 57 MB, fetched once into a cache), no Docker. It speaks the S3 REST API with SigV4
 * auth, path-style buckets, ListObjectsV2 pages of 1,000 keys, XML errors (NoSuchBucket,
 * NoSuchKey, PreconditionFailed) and conditional PutObject: `If-None-Match: *` and `If-Match`.
 *
 * 4.1.0 because it is the newest release, it runs on Java 17, and it honours both conditional
 * headers. It checks If-Match before the write rather than with it, so several of 20 concurrent
 * compare-and-swaps from one ETag won (4 and 10 in two runs); `S3Server.java` makes the check and
 * the write one step, as Amazon S3 does.
 */
export const S3PROXY_VERSION = '4.1.0';

/** The region clients sign for; the server accepts any, S3 clients need one. */
export const S3_SERVER_REGION = 'us-east-1';

const HEAP = '-Xmx512m';
const START_TIMEOUT_MS = 60_000;
const LAUNCHER_SOURCE = join(import.meta.dirname, 'S3Server.java');

// The server's logback configuration: warnings and errors only (its default is DEBUG).
const LOGBACK_XML = `<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender"><encoder><pattern>%d %level %logger{0} %msg%n</pattern></encoder></appender>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
`;

/** Java, Maven or the JDK compiler is missing, the jars could not be fetched, or the server would not start. */
export class S3ServerError extends Error {
  override name = 'S3ServerError';
}

/** The access key pair the server accepts (SigV4). */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Where a server answers and how to sign for it: plain data, so a test run can hand it to its workers. */
export interface S3Endpoint {
  /** `http://127.0.0.1:<port>`; buckets are addressed path-style. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: S3Credentials;
}

export interface S3ServerOptions {
  /**
   * Where the server's jars and its compiled launcher are kept between runs.
   * @default `$XDG_CACHE_HOME/streamlake/s3proxy-<S3PROXY_VERSION>-<hash of S3Server.java>` (`~/.cache/…`)
   */
  readonly cacheDir?: string;
  /** How long to wait for the server to answer. @default 60_000 */
  readonly startTimeoutMs?: number;
}

/** How long each step of `startS3Server` took, in milliseconds. */
export interface S3ServerTimings {
  /** Checking or fetching the jars and compiling the launcher: long on the first run only. */
  readonly installMs: number;
  /** From launching the JVM to the server answering HTTP requests. */
  readonly startMs: number;
}

/** A running server. It starts with no bucket: tests create their own. */
export interface S3Server extends S3Endpoint {
  /** Temporary directory holding `server.log`; the objects live in the JVM's memory. */
  readonly dir: string;
  readonly pid: number;
  readonly timings: S3ServerTimings;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period), which drops every bucket, and deletes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a fresh, empty server: fetches the jars and compiles the launcher once into the cache,
 * launches the JVM on a free loopback port and resolves once it answers. It is stopped when this
 * process exits.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  await requireJava(`S3Proxy ${S3PROXY_VERSION}`, S3ServerError);
  let started = Date.now();
  const install = await installServer(options.cacheDir ?? cacheDirOf(`s3proxy-${S3PROXY_VERSION}-${await launcherHash()}`));
  const installMs = Date.now() - started;

  const dir = await mkdtemp(join(tmpdir(), 'streamlake-s3-'));
  await writeFile(join(dir, 'logback.xml'), LOGBACK_XML);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // Fixed, because the server only listens on loopback and lives as long as the test run.
  const credentials = { accessKeyId: 'streamlake-test', secretAccessKey: 'streamlake-test-secret' };
  started = Date.now();
  const pid = await launchJava({
    args: [
      HEAP,
      // A test server lives for a minute: the quick compiler and one GC thread serve it sooner
      // on 2 cores (2,345 PUTs in 4.3 s instead of 7.1 s, measured).
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      '-XX:+ExitOnOutOfMemoryError',
      `-Dlogback.configurationFile=${join(dir, 'logback.xml')}`,
      '-cp',
      `${join(install, 'launcher')}:${join(install, 'lib')}/*`,
      'S3Server',
      String(port),
      credentials.accessKeyId,
      credentials.secretAccessKey,
    ],
    dir,
    logFile: 'server.log',
    product: `S3Proxy ${S3PROXY_VERSION}`,
    address: endpoint,
    ready: () => answers(endpoint),
    timeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS,
    detached: false,
    HarnessError: S3ServerError,
  });
  return {
    endpoint,
    region: S3_SERVER_REGION,
    credentials,
    dir,
    pid,
    timings: { installMs, startMs: Date.now() - started },
    async stop() {
      await terminate(pid);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launcherHash(): Promise<string> {
  return createHash('sha256').update(await readFile(LAUNCHER_SOURCE)).digest('hex').slice(0, 8);
}

/**
 * The server in `cacheDir/server`, made the first time: `lib/` holds S3Proxy and its runtime
 * dependencies at the versions of the release's own dependency management (imported as a BOM:
 * without it, Maven picks a jackson-annotations too old for its jackson-databind), `launcher/`
 * the compiled `S3Server`.
 */
async function installServer(cacheDir: string): Promise<string> {
  return cachedBuild(cacheDir, 'server', async (staging) => {
    const pom = join(cacheDir, 'pom.xml');
    const s3proxy = `org.gaul:s3proxy:${S3PROXY_VERSION}`;
    await writeFile(pom, dependencyPom('s3proxy-harness', S3PROXY_VERSION, [s3proxy], [s3proxy]));
    const lib = join(staging, 'lib');
    await maven(['-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], `S3Proxy ${S3PROXY_VERSION}`, S3ServerError);
    const compiled = await run('javac', ['--release', '17', '-d', join(staging, 'launcher'), '-cp', `${lib}/*`, LAUNCHER_SOURCE]).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new S3ServerError(`javac was not found on PATH: the harness compiles S3Server.java and needs a JDK, not only a JRE; ${INSTALL_HINT}`);
      throw error;
    });
    if (compiled.code !== 0) throw new S3ServerError(`compiling ${LAUNCHER_SOURCE} against S3Proxy ${S3PROXY_VERSION} failed:\n${tail(compiled.output)}`);
  });
}

/** True once the server answers HTTP: any status will do (an unsigned request gets 403). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}
