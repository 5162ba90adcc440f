import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { HarnessErrorClass } from '../jvm.ts';

/** A JDK the harness runs a server on, besides the `java` on PATH. */
export interface Java {
  readonly home: string;
  readonly major: number;
  readonly javac: string;
}

/** Where Debian and the Temurin packages install JDKs. */
const JVM_DIR = '/usr/lib/jvm';

/**
 * A JDK of at least Java `major`: `$JAVA_HOME` when it is one, else the newest under
 * /usr/lib/jvm (these machines have Temurin 25 beside the OpenJDK 17 on PATH). Its `release`
 * file says its version.
 */
export function javaOf(major: number, product: string, HarnessError: HarnessErrorClass): Java {
  const candidates = [process.env.JAVA_HOME, ...(existsSync(JVM_DIR) ? readdirSync(JVM_DIR).map((name) => join(JVM_DIR, name)) : [])]
    .filter((home): home is string => home !== undefined && home !== '')
    .map((home) => ({ home, major: majorOf(home), javac: join(home, 'bin', 'javac') }))
    .filter((jdk) => jdk.major >= major && existsSync(join(jdk.home, 'bin', 'java')) && existsSync(jdk.javac));
  const jdk = candidates.find((c) => c.home === process.env.JAVA_HOME) ?? candidates.sort((a, b) => b.major - a.major)[0];
  if (!jdk) {
    throw new HarnessError(
      `${product} needs a Java ${major}+ JDK, and neither $JAVA_HOME nor ${JVM_DIR} has one: install one (e.g. Temurin 25 from the Adoptium Debian repository) or point JAVA_HOME at it`,
    );
  }
  return jdk;
}

function majorOf(home: string): number {
  try {
    const version = /^JAVA_VERSION="(?:1\.)?(\d+)/m.exec(readFileSync(join(home, 'release'), 'utf8'))?.[1];
    return version === undefined ? 0 : Number(version);
  } catch {
    return 0;
  }
}

/**
 * Runs `launch` with `java`'s bin directory first on PATH, and puts PATH back as soon as `launch`
 * returns its promise: tools/jvm.ts spawns `java` from PATH synchronously, before its first
 * `await`, so the JVM gets this JDK and nothing that runs meanwhile (another server starting
 * in the same process) sees the change.
 */
export async function withJavaOnPath<T>(java: Java, launch: () => Promise<T>): Promise<T> {
  const path = process.env.PATH;
  process.env.PATH = [join(java.home, 'bin'), path].filter(Boolean).join(delimiter);
  let launched: Promise<T>;
  try {
    launched = launch();
  } finally {
    process.env.PATH = path;
  }
  return launched;
}
