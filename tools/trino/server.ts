import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirOf, cachedBuild, dependencyPom, freePort, INSTALL_HINT, launchJava, maven, requireJava, run, tail, terminate } from '../jvm.ts';
import { javaOf, withJavaOnPath, type Java } from './java.ts';

/**
 * A single-node Trino server (coordinator and worker in one JVM) over file metastores, to run the
 * SQL that Athena runs (Athena engine v3 is Trino) on this machine: no Docker, no Trino install,
 * no AWS. Started from Maven Central artifacts: the server's jars and the connector plugins, fetched
 * once into a cache. Two releases:
 *
 * - {@link ATHENA_TRINO} (435, the default): the Hive connector, for the Glue tables and the named
 *   queries. 435 because it is the last release that runs on Java 17 (436 requires Java 21).
 * - {@link ICEBERG_TRINO} (476): the Iceberg connector beside the Hive one, to read the Iceberg
 *   tables the pipeline writes. Maven Central serves the Iceberg plugin of neither 435 nor any
 *   release from 436 to 475 except 449 and 468; 476 is the newest one it serves whole, and runs on
 *   the Java 24+ JDK it finds (Temurin 25 on these machines).
 */
export const TRINO_VERSION = '435';

/** The Hive catalog: named as Athena names the Glue Data Catalog. */
export const TRINO_CATALOG = 'awsdatacatalog';

/** The Iceberg catalog of {@link ICEBERG_TRINO}. */
export const ICEBERG_CATALOG = 'iceberg';

/** What differs between the releases the harness runs. */
export interface TrinoRelease {
  readonly version: string;
  /** The oldest Java the release runs on. */
  readonly javaMajor: number;
  /** The connector plugins it loads, each the `io.trino:trino-<name>:<version>:zip` Maven Central publishes. */
  readonly plugins: readonly string[];
  /**
   * How its connectors reach local files. `hdfs-stand-in`: the Hive plugin's HDFS file system
   * replaced by Trino's local one (435 has no native local file system), serving `local://`.
   * `native`: Trino's own local file system (`fs.native-local.enabled`), serving `local://` and
   * `file://`, the scheme of the local lake's Iceberg metadata.
   */
  readonly fileSystem: 'hdfs-stand-in' | 'native';
}

export const ATHENA_TRINO: TrinoRelease = { version: TRINO_VERSION, javaMajor: 17, plugins: ['hive'], fileSystem: 'hdfs-stand-in' };
export const ICEBERG_TRINO: TrinoRelease = { version: '476', javaMajor: 24, plugins: ['hive', 'iceberg'], fileSystem: 'native' };

const HEAP = '-Xmx1g';
const START_TIMEOUT_MS = 180_000;
/** The Java the harness compiles: the server's main class and, for 435, the Hive plugin's local file system. */
const JAVA_SOURCES = { launcher: join(import.meta.dirname, 'TrinoServer.java'), fileSystem: join(import.meta.dirname, 'HdfsFileSystemManager.java') };

/** Java, Maven or the JDK compiler is missing, the artifacts could not be fetched, or the server would not start. */
export class TrinoServerError extends Error {
  override name = 'TrinoServerError';
}

export interface TrinoServerOptions {
  /** Which release to run, and so which connectors. @default ATHENA_TRINO (435, Hive) */
  readonly release?: TrinoRelease;
  /**
   * Where the server's jars are kept between runs.
   * @default `$XDG_CACHE_HOME/streamlake/trino-<version>-<hash of the Java sources and plugins>` (`~/.cache/…`): editing them rebuilds the cache, from ~/.m2
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
  readonly version: string;
  /** `http://127.0.0.1:<port>`: the REST endpoint that tools/trino/client.ts queries. */
  readonly url: string;
  /** The Hive catalog, {@link TRINO_CATALOG}. */
  readonly catalog: string;
  /** The Iceberg catalog, {@link ICEBERG_CATALOG}, when the release has the Iceberg connector. */
  readonly icebergCatalog?: string;
  /** Temporary directory holding the configuration, the metastores, the node data and `server.log`. */
  readonly dir: string;
  /** Where the Hive catalog's file metastore keeps schemas, tables and partitions (Hive types, as Glue does). */
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
  const release = options.release ?? ATHENA_TRINO;
  const java = await javaFor(release);
  let started = Date.now();
  const install = await installServer(release, java, options.cacheDir ?? cacheDirOf(`trino-${release.version}-${await installHash(release)}`));
  const installMs = Date.now() - started;

  const dir = await mkdtemp(join(tmpdir(), `streamlake-trino-${release.version}-`));
  const metastoreDir = join(dir, 'metastore');
  const url = `http://127.0.0.1:${await freePort()}`;
  await writeConfig(release, dir, install, url, metastoreDir);
  started = Date.now();
  const launch = () =>
    launchJava({
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
        release.version,
      ],
      dir,
      logFile: 'server.log',
      product: `Trino ${release.version}`,
      address: url,
      ready: () => acceptsQueries(url),
      timeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS,
      detached: false,
      HarnessError: TrinoServerError,
    });
  const pid = java ? await withJavaOnPath(java, launch) : await launch();
  return {
    version: release.version,
    url,
    catalog: TRINO_CATALOG,
    ...(release.plugins.includes('iceberg') ? { icebergCatalog: ICEBERG_CATALOG } : {}),
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

/** The JDK a release runs on: undefined for `java` on PATH (435 on Java 17), else one found for it. */
async function javaFor(release: TrinoRelease): Promise<Java | undefined> {
  if (release.javaMajor <= 17) {
    await requireJava(`Trino ${release.version}`, TrinoServerError);
    return undefined;
  }
  return javaOf(release.javaMajor, `Trino ${release.version}`, TrinoServerError);
}

async function installHash(release: TrinoRelease): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(release));
  for (const source of Object.values(JAVA_SOURCES)) hash.update(await readFile(source));
  return hash.digest('hex').slice(0, 8);
}

/**
 * The server in `cacheDir/server`, made the first time: `lib/` holds trino-main and its runtime
 * dependencies at the versions of the release's own BOM, `plugin/` each connector plugin as Maven
 * Central publishes it (a zip), `launcher/` the compiled main class: what the connectors need,
 * where the release tarball bundles every connector (and is not served for 435 or 476 by the Maven
 * repository the harness fetches from).
 */
async function installServer(release: TrinoRelease, java: Java | undefined, cacheDir: string): Promise<string> {
  const { version } = release;
  return cachedBuild(cacheDir, 'server', async (staging) => {
    const pom = join(cacheDir, 'pom.xml');
    await writeFile(pom, dependencyPom('trino-server-harness', version, [`io.trino:trino-main:${version}`], [`io.trino:trino-root:${version}`]));
    const lib = join(staging, 'lib');
    await maven(['-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], `Trino ${version}`, TrinoServerError);
    for (const plugin of release.plugins) {
      await maven(['-f', pom, 'dependency:unpack', `-Dartifact=io.trino:trino-${plugin}:${version}:zip`, `-DoutputDirectory=${join(staging, 'plugin')}`], `the Trino ${version} ${plugin} plugin`, TrinoServerError);
    }
    await javac(java, release, JAVA_SOURCES.launcher, `${lib}/*`, join(staging, 'launcher'));
    if (release.fileSystem === 'hdfs-stand-in') {
      // The Hive plugin loads its file system from hdfs/ in a class loader of its own: the stand-in
      // class, and the local file system it serves, which that loader does not take from the plugin.
      const plugin = join(staging, 'plugin', `trino-hive-${version}`);
      const hdfs = join(plugin, 'hdfs');
      await javac(java, release, JAVA_SOURCES.fileSystem, `${lib}/*:${plugin}/*`, join(hdfs, 'classes'));
      const localFileSystem = `trino-filesystem-${version}.jar`;
      await copyFile(join(plugin, localFileSystem), join(hdfs, localFileSystem));
    }
  });
}

async function javac(java: Java | undefined, release: TrinoRelease, source: string, classpath: string, outputDir: string): Promise<void> {
  const compiler = java ? java.javac : 'javac';
  const compiled = await run(compiler, ['--release', String(release.javaMajor), '-d', outputDir, '-cp', classpath, source]).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new TrinoServerError(`${compiler} was not found: the harness compiles small classes and needs a JDK, not only a JRE; ${INSTALL_HINT}`);
    throw error;
  });
  if (compiled.code !== 0) throw new TrinoServerError(`compiling ${source} against Trino ${release.version} failed:\n${tail(compiled.output)}`);
}

async function writeConfig(release: TrinoRelease, dir: string, install: string, url: string, metastoreDir: string): Promise<void> {
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
  // Trino's own local file system, rooted at `/`: `local:///x` and `file:///x` are the file /x.
  const fileSystem = release.fileSystem === 'native' ? ['fs.native-local.enabled=true', 'local.location=/'] : [];
  await writeFile(
    join(catalogDir, `${TRINO_CATALOG}.properties`),
    properties([
      'connector.name=hive',
      'hive.metastore=file',
      `hive.metastore.catalog.dir=${localLocation(metastoreDir)}`,
      // Glue partition projection needs no registration; with a file metastore, partitions are
      // registered with `CALL system.register_partition(…)`.
      'hive.allow-register-partition-procedure=true',
      ...fileSystem,
    ]),
  );
  if (release.plugins.includes('iceberg')) {
    await writeFile(
      join(catalogDir, `${ICEBERG_CATALOG}.properties`),
      properties([
        'connector.name=iceberg',
        // A metastore in a directory, as the Hive catalog's; the Iceberg catalog the pipeline
        // writes (a pointer object per table) is read by registering each table's metadata file.
        'iceberg.catalog.type=TESTING_FILE_METASTORE',
        `hive.metastore.catalog.dir=${localLocation(`${metastoreDir}-iceberg`)}`,
        'iceberg.register-table-procedure.enabled=true',
        ...fileSystem,
      ]),
    );
  }
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
