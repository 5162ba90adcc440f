import type { TestProject } from 'vitest/node';
import { startBroker } from '../../tools/kafka/broker.ts';
import { startS3Server, type S3Endpoint } from '../../tools/s3/server.ts';

/** Addresses of the run's broker, for `inject('kafka')`. */
export interface KafkaEndpoints {
  readonly bootstrap: string;
  readonly saslBootstrap: string;
  /** `connections.max.reauth.ms` of the SASL listener: sessions reauthenticate this often. */
  readonly saslSessionMs: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: KafkaEndpoints;
    /** The run's S3-compatible server: tests create their own buckets on it. */
    s3: S3Endpoint;
  }
}

// Short, so every test over SASL also runs through reauthentication, as long runs do on MSK.
const SASL_SESSION_MS = 5_000;

/**
 * Starts one broker and one S3-compatible server for the whole integration run and stops them at
 * the end. One after the other: on a first run both fetch jars with Maven into the same ~/.m2.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startBroker({ saslSessionMs: SASL_SESSION_MS });
  const { jarsMs, formatMs, startMs } = broker.timings;
  console.log(`Apache Kafka at ${broker.bootstrap} (SASL ${broker.saslBootstrap}); jars ${jarsMs} ms, format ${formatMs} ms, start ${startMs} ms`);
  const s3 = await startS3Server().catch(async (error: unknown) => {
    await broker.stop();
    throw error;
  });
  console.log(`S3Proxy at ${s3.endpoint}; jars ${s3.timings.installMs} ms, start ${s3.timings.startMs} ms`);
  project.provide('kafka', { bootstrap: broker.bootstrap, saslBootstrap: broker.saslBootstrap, saslSessionMs: SASL_SESSION_MS });
  project.provide('s3', { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials });
  return async () => {
    await Promise.all([broker.stop(), s3.stop()]);
  };
}
