import { DEFAULTS } from '../../lib/config.ts';
import { DuckDbLake } from '../../src/local/duckdb-lake.ts';
import { DECLARED } from './tables.ts';

/** The simulated fleet's readings in the lake (devices `dev-…`), checked with SQL. */
export interface FleetReadings {
  readonly devices: number;
  /** Readings in `device_logs` plus the fleet's records in quarantine. */
  readonly readings: number;
  /** `count(*) - count(DISTINCT (device_id, seq))` over `device_logs`: readings sent more than once. */
  readonly repeated: number;
  /** Quarantined records of the fleet whose key and bytes are in quarantine more than once. */
  readonly repeatedInQuarantine: number;
  /** Rows of `device_logs` whose `seq` is not one of the minute they were produced for. */
  readonly misplaced: number;
  /**
   * Devices without exactly `eventsPerDevicePerMinute` readings (in the lake or quarantine) in every
   * minute from their first to their last: a device with none is missing a `seq`.
   */
  readonly devicesWithGaps: number;
}

/**
 * Checks that every simulated minute of every device is in the lake once: no reading repeated,
 * none missing between a device's first and last. A quarantined record may not parse, so it counts
 * by its key (the device) and its Kafka timestamp (the end of the minute it was produced for); a
 * reading's `seq` is `minute × eventsPerDevicePerMinute + slot`, which ties the two together.
 */
export async function fleetReadings(lakeDir: string): Promise<FleetReadings> {
  const perMinute = DEFAULTS.eventsPerDevicePerMinute;
  const lake = await DuckDbLake.open(lakeDir, DECLARED.tables);
  try {
    const { rows } = await lake.query(`
      WITH quarantined AS (
        SELECT decode(from_base64(key_base64)) AS device_id, raw_base64, epoch_ms(kafka_timestamp::TIMESTAMPTZ) // 60000 - 1 AS minute
        FROM device_logs_quarantine WHERE key_base64 IS NOT NULL
      ),
      fleet_quarantined AS (SELECT * FROM quarantined WHERE device_id LIKE 'dev-%'),
      fleet_rows AS (SELECT device_id, seq, epoch_ms(kafka_timestamp) // 60000 - 1 AS minute FROM device_logs WHERE device_id LIKE 'dev-%'),
      readings AS (SELECT device_id, minute FROM fleet_rows UNION ALL SELECT device_id, minute FROM fleet_quarantined)
      SELECT
        (SELECT count(DISTINCT device_id) FROM readings) AS devices,
        (SELECT count(*) FROM readings) AS readings,
        (SELECT count(*) - count(DISTINCT (device_id, seq)) FROM fleet_rows) AS repeated,
        (SELECT count(*) - count(DISTINCT (device_id, raw_base64)) FROM fleet_quarantined) AS repeated_in_quarantine,
        (SELECT count(*) FROM fleet_rows WHERE seq // ${perMinute} <> minute) AS misplaced,
        (SELECT count(*) FROM (
          SELECT device_id FROM readings GROUP BY device_id HAVING (max(minute) - min(minute) + 1) * ${perMinute} <> count(*) OR count(DISTINCT minute) <> max(minute) - min(minute) + 1
        )) AS devices_with_gaps`);
    const row = rows[0]!;
    return {
      devices: row.devices as number,
      readings: row.readings as number,
      repeated: row.repeated as number,
      repeatedInQuarantine: row.repeated_in_quarantine as number,
      misplaced: row.misplaced as number,
      devicesWithGaps: row.devices_with_gaps as number,
    };
  } finally {
    lake.close();
  }
}
