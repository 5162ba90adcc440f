import type { TestProject } from 'vitest/node';
import { startBroker } from '../../tools/kafka/broker.ts';

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
  }
}

// Short, so every test over SASL also runs through reauthentication, as long runs do on MSK.
const SASL_SESSION_MS = 5_000;

/** Starts one broker for the whole integration run and stops it at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startBroker({ saslSessionMs: SASL_SESSION_MS });
  const { jarsMs, formatMs, startMs } = broker.timings;
  console.log(`Apache Kafka at ${broker.bootstrap} (SASL ${broker.saslBootstrap}); jars ${jarsMs} ms, format ${formatMs} ms, start ${startMs} ms`);
  project.provide('kafka', { bootstrap: broker.bootstrap, saslBootstrap: broker.saslBootstrap, saslSessionMs: SASL_SESSION_MS });
  return () => broker.stop();
}
