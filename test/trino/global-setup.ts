import type { TestProject } from 'vitest/node';
import { startTrino, TRINO_VERSION } from '../../tools/trino/server.ts';

/** Where the run's Trino server answers, for `inject('trino')`. */
export interface TrinoEndpoint {
  readonly url: string;
  readonly catalog: string;
  readonly metastoreDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    trino: TrinoEndpoint;
  }
}

/** Starts one Trino server for the whole run and stops it at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startTrino();
  const { installMs, startMs } = server.timings;
  console.log(`Trino ${TRINO_VERSION} at ${server.url}; install ${installMs} ms, start ${startMs} ms`);
  project.provide('trino', { url: server.url, catalog: server.catalog, metastoreDir: server.metastoreDir });
  return () => server.stop();
}
