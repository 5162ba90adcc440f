import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirOf, cachedBuild, dependencyPom, freePort, INSTALL_HINT, launchJava, maven, requireJava, run, tail, terminate } from '../jvm.ts';

/**
 * A single-node Trino server (coordinator and worker in one JVM) with the Hive connector over a
 * file metastore, to run the SQL that Athena runs (Athena engine v3 is Trino) on this machine: no
 * Docker, no Trino install, no AWS. Started from Maven Central artifacts: the server's jars and
 * the Hive plugin, about 270 MB, fetched once into a cache.
 *
 * 435 because it is the last release that runs on Java 17 (436 requires Java 21).
 */
export const TRINO_VERSION = '435';

/** The Hive catalog: named as Athena names the Glue Data Catalog. */
export const TRINO_CATALOG = 'awsdatacatalog';

const HEAP = '-Xmx1g';
const START_TIMEOUT_MS = 180_000;
const HIVE_PLUGIN = `trino-hive-${TRINO_VERSION}`;
/** The Java the harness compiles: the server's main class and the Hive plugin's local file system. */
const JAVA_SOURCES = { launcher: join(import.meta.dirname, 'TrinoServer.java'), fileSystem: join(import.meta.dirname, 'HdfsFileSystemManager.java') };

/** Java, Maven or the JDK compiler is missing, the artifacts could not be fetched, or the server would not start. */
export class TrinoServerError extends Error {
  override name = 'TrinoServerError';
}

export interface TrinoServerOptions {
  /**
   * Where the server's jars are kept between runs.
   * @default `$XDG_CACHE_HOME/streamlake/trino-<TRINO_VERSION>-<hash of the Java sources>` (`~/.cache/…`): editing them rebuilds the cache, from ~/.m2
   */
  readonly cacheDir?: string;
  /** How long to wait for the server to accept queries. @default 180_000 */
  readonly startTimeoutMs?: number;
}

/** How long each step of `startTrino` took, in milliseconds. */
export interface TrinoServerTimings {
  /** Checking or fetching the jars and compiling the Java sources: long on the first run only. */
  readonly installMs: number;
  /** From launching the JVM to the server accepting queries. */
  readonly startMs: number;
}

/** A running server. */
export interface TrinoServer {
  /** `http://127.0.0.1:<port>`: the REST endpoint that tools/trino/client.ts queries. */
  readonly url: string;
  /** The Hive catalog, {@link TRINO_CATALOG}. */
  readonly catalog: string;
  /** Temporary directory holding the configuration, the metastore, the node data and `server.log`. */
  readonly dir: string;
  /** Where the file metastore keeps schemas, tables and partitions (Hive types, as Glue does). */
  readonly metastoreDir: string;
  readonly pid: number;
  readonly timings: TrinoServerTimings;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and deletes its directory. */
  stop(): Promise<void>;
}

/** The location of the absolute local path `path` for the Hive connector: its file system serves `local://` from `/`. */
export function localLocation(path: string): string {
  return `local://${path}`;
}

/**
 * Starts a fresh server: fetches and compiles what it needs once into the cache, writes its
 * configuration into a new temporary directory, launches the JVM in UTC (as Athena runs) on a free
 * loopback port and resolves once the server accepts queries.
 */
export async function startTrino(options: TrinoServerOptions = {}): Promise<TrinoServer> {
  await requireJava(`Trino ${TRINO_VERSION}`, TrinoServerError);
  let started = Date.now();
  const install = await installServer(options.cacheDir ?? cacheDirOf(`trino-${TRINO_VERSION}-${await sourcesHash()}`));
  const installMs = Date.now() - started;

  const dir = await mkdtemp(join(tmpdir(), 'streamlake-trino-'));
  const metastoreDir = join(dir, 'metastore');
  const url = `http://127.0.0.1:${await freePort()}`;
  await writeConfig(dir, install, url, metastoreDir);
  started = Date.now();
  const pid = await launchJava({
    args: [
      HEAP,
      '-Duser.timezone=UTC',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djdk.attach.allowAttachSelf=true',
      '-Dfile.encoding=UTF-8',
      '-Dnode.environment=streamlake',
      `-Dnode.data-dir=${join(dir, 'data')}`,
      `-Dconfig=${join(dir, 'config.properties')}`,
      '-cp',
      `${join(install, 'launcher')}:${join(install, 'lib')}/*`,
      'TrinoServer',
      TRINO_VERSION,
    ],
    dir,
    logFile: 'server.log',
    product: `Trino ${TRINO_VERSION}`,
    address: url,
    ready: () => acceptsQueries(url),
    timeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS,
    detached: false,
    HarnessError: TrinoServerError,
  });
  return {
    url,
    catalog: TRINO_CATALOG,
    dir,
    metastoreDir,
    pid,
    timings: { installMs, startMs: Date.now() - started },
    async stop() {
      await terminate(pid);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function sourcesHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const source of Object.values(JAVA_SOURCES)) hash.update(await readFile(source));
  return hash.digest('hex').slice(0, 8);
}

/**
 * The server in `cacheDir/server`, made the first time: `lib/` holds trino-main and its runtime
 * dependencies at the versions of the release's own BOM, `plugin/` the Hive plugin as Maven Central
 * publishes it (a zip), `launcher/` the compiled main class: what the Hive connector needs, where
 * the release tarball bundles every connector (and is not served for 435 by the Maven repository
 * the harness fetches from).
 */
async function installServer(cacheDir: string): Promise<string> {
  return cachedBuild(cacheDir, 'server', async (staging) => {
    const pom = join(cacheDir, 'pom.xml');
    await writeFile(pom, dependencyPom('trino-server-harness', TRINO_VERSION, [`io.trino:trino-main:${TRINO_VERSION}`], [`io.trino:trino-root:${TRINO_VERSION}`]));
    const lib = join(staging, 'lib');
    const plugin = join(staging, 'plugin', HIVE_PLUGIN);
    await maven(['-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], `Trino ${TRINO_VERSION}`, TrinoServerError);
    await maven(['-f', pom, 'dependency:unpack', `-Dartifact=io.trino:trino-hive:${TRINO_VERSION}:zip`, `-DoutputDirectory=${join(staging, 'plugin')}`], `the Trino ${TRINO_VERSION} Hive plugin`, TrinoServerError);
    await javac(JAVA_SOURCES.launcher, `${lib}/*`, join(staging, 'launcher'));
    // The Hive plugin loads its file system from hdfs/ in a class loader of its own: the stand-in
    // class, and the local file system it serves, which that loader does not take from the plugin.
    const hdfs = join(plugin, 'hdfs');
    await javac(JAVA_SOURCES.fileSystem, `${lib}/*:${plugin}/*`, join(hdfs, 'classes'));
    const localFileSystem = `trino-filesystem-${TRINO_VERSION}.jar`;
    await copyFile(join(plugin, localFileSystem), join(hdfs, localFileSystem));
  });
}

async function javac(source: string, classpath: string, outputDir: string): Promise<void> {
  const compiled = await run('javac', ['--release', '17', '-d', outputDir, '-cp', classpath, source]).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new TrinoServerError(`javac was not found on PATH: the harness compiles two small classes and needs a JDK, not only a JRE; ${INSTALL_HINT}`);
    throw error;
  });
  if (compiled.code !== 0) throw new TrinoServerError(`compiling ${source} against Trino ${TRINO_VERSION} failed:\n${tail(compiled.output)}`);
}

async function writeConfig(dir: string, install: string, url: string, metastoreDir: string): Promise<void> {
  const catalogDir = join(dir, 'catalog');
  await mkdir(catalogDir);
  await writeFile(
    join(dir, 'config.properties'),
    properties([
      'coordinator=true',
      'node-scheduler.include-coordinator=true',
      `http-server.http.port=${new URL(url).port}`,
      `discovery.uri=${url}`,
      `plugin.dir=${join(install, 'plugin')}`,
      `catalog.config-dir=${catalogDir}`,
    ]),
  );
  await writeFile(
    join(catalogDir, `${TRINO_CATALOG}.properties`),
    properties([
      'connector.name=hive',
      'hive.metastore=file',
      `hive.metastore.catalog.dir=${localLocation(metastoreDir)}`,
      // Glue partition projection needs no registration; with a file metastore, partitions are
      // registered with `CALL system.register_partition(…)`.
      'hive.allow-register-partition-procedure=true',
    ]),
  );
}

function properties(lines: readonly string[]): string {
  return `${lines.join('\n')}\n`;
}

/** True once the server has finished starting: its catalogs are loaded and it accepts queries. */
async function acceptsQueries(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v1/info`, { signal: AbortSignal.timeout(2_000) });
    return response.ok && ((await response.json()) as { starting?: boolean }).starting === false;
  } catch {
    return false;
  }
}
