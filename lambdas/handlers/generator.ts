import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type KafkaConnection } from '../adapters/kafka.ts';
import { openKafkaWriter } from '../adapters/kafka-writer.ts';
import { DeviceFleet, produceMinute, type GeneratorReport } from '../demo/device-fleet.ts';
import type { TopicWriter } from '../ports/topic.ts';
import { ENV, kafkaSettings, METRICS_NAMESPACE, requireNumber, requireString } from './environment.ts';

const logger = new Logger({ serviceName: 'log-generator' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'log-generator' });

/** How the handler builds its producer; tests swap it. */
export interface GeneratorFactories {
  readonly openWriter: (connection: KafkaConnection) => Promise<TopicWriter>;
}

/** The fleet and an MSK producer (IAM auth over TLS, acks=all, idempotent), from the environment. */
export async function generatorSetup(env: NodeJS.ProcessEnv, factories: GeneratorFactories): Promise<{ fleet: DeviceFleet; writer: TopicWriter }> {
  const kafka = kafkaSettings(env);
  const fleet = new DeviceFleet({
    devices: requireNumber(env, ENV.devices),
    eventsPerDevicePerMinute: requireNumber(env, ENV.eventsPerDevicePerMinute),
    seed: requireNumber(env, ENV.seed),
    lateShare: requireNumber(env, ENV.lateShare),
    maxLatenessMinutes: requireNumber(env, ENV.maxLatenessMinutes),
    anomalyShare: requireNumber(env, ENV.anomalyShare),
    corruptShare: requireNumber(env, ENV.corruptShare),
  });
  const writer = await factories.openWriter({ brokers: kafka.brokers, topic: requireString(env, ENV.topic), clientId: 'streamlake-log-generator', auth: { mechanism: 'msk-iam', region: kafka.region }, tls: true });
  return { fleet, writer };
}

/** A generator handler: setup once per container (again after a failed setup), then one minute per invocation. */
export function createGeneratorHandler(factories: GeneratorFactories = { openWriter: openKafkaWriter }): (event: { scheduledTime?: string }) => Promise<GeneratorReport> {
  let setup: ReturnType<typeof generatorSetup> | undefined;
  return async (event) => {
    setup ??= generatorSetup(process.env, factories).catch((error: unknown) => {
      setup = undefined;
      throw error;
    });
    const { fleet, writer } = await setup;
    // The scheduled time (not the clock) names the minute, so a retried delivery produces the same minute.
    const now = event.scheduledTime ? Date.parse(event.scheduledTime) : Date.now();
    const report = await produceMinute(fleet, writer, now);
    metrics.addMetric('RecordsProduced', MetricUnit.Count, report.records);
    metrics.addMetric('BytesProduced', MetricUnit.Bytes, report.bytes);
    metrics.publishStoredMetrics();
    logger.info('produced a minute of device events', { minute: new Date(report.minuteStart).toISOString(), records: report.records, bytes: report.bytes });
    return report;
  };
}

/** Scheduled every minute: produces the fleet's events of the minute before the scheduled time. */
export const handler = createGeneratorHandler();
