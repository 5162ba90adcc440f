import type { TestProject } from 'vitest/node';
import { ICEBERG_TRINO, startTrino, type TrinoServer } from '../../tools/trino/server.ts';

/** Where one of the run's Trino servers answers, for `inject('trino')` and `inject('trinoIceberg')`. */
export interface TrinoEndpoint {
  readonly url: string;
  /** The Hive catalog. */
  readonly catalog: string;
  /** The Iceberg catalog, on the server that has the Iceberg connector. */
  readonly icebergCatalog?: string;
  readonly metastoreDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Trino 435 (Athena's engine) with the Hive connector. */
    trino: TrinoEndpoint;
    /** Trino 476 with the Iceberg and Hive connectors. */
    trinoIceberg: TrinoEndpoint;
  }
}

/** Starts the run's two Trino servers side by side, once for the whole run, and stops them at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = await Promise.allSettled([startTrino(), startTrino({ release: ICEBERG_TRINO })]);
  const servers = started.filter((s): s is PromiseFulfilledResult<TrinoServer> => s.status === 'fulfilled').map((s) => s.value);
  const stop = () => Promise.all(servers.map((server) => server.stop())).then(() => undefined);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const endpoint = (server: TrinoServer): TrinoEndpoint => ({ url: server.url, catalog: server.catalog, icebergCatalog: server.icebergCatalog, metastoreDir: server.metastoreDir });
  for (const server of servers) {
    const { installMs, startMs } = server.timings;
    console.log(`Trino ${server.version} at ${server.url}; install ${installMs} ms, start ${startMs} ms`);
  }
  project.provide('trino', endpoint(servers[0]!));
  project.provide('trinoIceberg', endpoint(servers[1]!));
  return stop;
}
