import type { Codec } from '../lambdas/ports/parquet.ts';

/**
 * Everything a user may tune, with its default. The CDK app, the Lambda environment, the local
 * runner, the README and the tests all read these values from here.
 */
export interface PipelineConfig {
  /** Kafka topic the generator writes and the compactor reads. @default DEFAULTS.topicName ('device-logs') */
  readonly topicName: string;
  /** Partitions of the topic: may grow, never shrink. @default DEFAULTS.partitions (6) */
  readonly partitions: number;
  /** Consumer group of the compactor: names its checkpoint and committed offsets. @default DEFAULTS.consumerGroup ('streamlake-compactor') */
  readonly consumerGroup: string;

  /** Simulated devices. @default DEFAULTS.devices (100) */
  readonly devices: number;
  /** Events each device sends per minute. @default DEFAULTS.eventsPerDevicePerMinute (1) */
  readonly eventsPerDevicePerMinute: number;
  /** Seed of the simulated fleet. @default DEFAULTS.seed (42) */
  readonly seed: number;
  /** Share (0-1) of events that arrive late. @default DEFAULTS.lateShare (0.02) */
  readonly lateShare: number;
  /** Latest a late event arrives, in minutes. @default DEFAULTS.maxLatenessMinutes (90) */
  readonly maxLatenessMinutes: number;
  /** Share (0-1) of anomalous readings. @default DEFAULTS.anomalyShare (0.005) */
  readonly anomalyShare: number;
  /** Share (0-1) of records sent corrupt, to exercise quarantine. @default DEFAULTS.corruptShare (0.001) */
  readonly corruptShare: number;

  /** Generator cadence in minutes (EventBridge `rate(n minutes)`; the local runner's simulated schedule). @default DEFAULTS.generatorEveryMinutes (1) */
  readonly generatorEveryMinutes: number;
  /** Compactor cadence in minutes. @default DEFAULTS.compactorEveryMinutes (5) */
  readonly compactorEveryMinutes: number;
  /** Parquet codec. @default DEFAULTS.codec ('snappy') */
  readonly codec: Codec;
  /** Most records one compactor run reads, so it fits its memory and timeout. @default DEFAULTS.maxRecordsPerRun (500000) */
  readonly maxRecordsPerRun: number;
  /** Largest accepted record value; larger ones are quarantined. @default DEFAULTS.maxRecordBytes (65536) */
  readonly maxRecordBytes: number;
  /** Oldest accepted event_time relative to its Kafka timestamp, in hours. @default DEFAULTS.maxEventAgeHours (168) */
  readonly maxEventAgeHours: number;
  /** Furthest accepted event_time ahead of its Kafka timestamp, in minutes (device clock skew). @default DEFAULTS.maxEventFutureMinutes (15) */
  readonly maxEventFutureMinutes: number;
}

export const DEFAULTS: PipelineConfig = {
  topicName: 'device-logs',
  partitions: 6,
  consumerGroup: 'streamlake-compactor',
  devices: 100,
  eventsPerDevicePerMinute: 1,
  seed: 42,
  lateShare: 0.02,
  maxLatenessMinutes: 90,
  anomalyShare: 0.005,
  corruptShare: 0.001,
  generatorEveryMinutes: 1,
  compactorEveryMinutes: 5,
  codec: 'snappy',
  maxRecordsPerRun: 500_000,
  maxRecordBytes: 65_536,
  maxEventAgeHours: 168,
  maxEventFutureMinutes: 15,
};

/** The validation limits of the compactor, from the config's units to milliseconds. */
export function validationLimits(config: PipelineConfig) {
  return {
    maxRecordBytes: config.maxRecordBytes,
    maxEventAgeMs: config.maxEventAgeHours * 3_600_000,
    maxEventFutureMs: config.maxEventFutureMinutes * 60_000,
  };
}
