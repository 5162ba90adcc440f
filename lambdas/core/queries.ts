import { TABLE } from './lake-layout.ts';

/** A query shipped with the pipeline: run by `streamlake query --named`, and deployed as an Athena named query. */
export interface NamedQuery {
  readonly name: string;
  readonly description: string;
  readonly sql: string;
}

/**
 * The named queries. Each is written in SQL that both engines accept and answer alike: Athena
 * engine v3 (Trino) and DuckDB; `npm run test:trino` runs each on both and compares the results.
 * - Standard SQL, window functions and the functions both share (`date_diff`, `round`, `avg`, `max`).
 * - Divide as doubles (`CAST(x AS double) / y`): Trino divides integers as integers and reads
 *   `100.0` as a DECIMAL whose scale sets the result's, where DuckDB's `/` gives a double.
 * - Time between timestamps in milliseconds (`date_diff('millisecond', a, b)`) or against an
 *   INTERVAL: in coarser units Trino counts whole units elapsed, DuckDB unit boundaries crossed.
 * - Cast `current_timestamp` to `timestamp` (sessions run in UTC).
 */
export const NAMED_QUERIES: readonly NamedQuery[] = [
  {
    name: 'latest_reading_per_device',
    description: 'The most recent reading of every device.',
    sql: `SELECT device_id, site, event_time, temperature_c, humidity_pct, battery_pct, status
FROM (
  SELECT device_id, site, event_time, temperature_c, humidity_pct, battery_pct, status,
         row_number() OVER (PARTITION BY device_id ORDER BY event_time DESC, seq DESC) AS recency
  FROM ${TABLE}
) AS ranked
WHERE recency = 1
ORDER BY device_id`,
  },
  {
    name: 'hourly_averages_per_device',
    description: 'Readings averaged per device and UTC hour, newest hour first.',
    sql: `SELECT dt, hour, device_id,
       count(*) AS readings,
       round(avg(temperature_c), 2) AS avg_temperature_c,
       round(avg(humidity_pct), 1) AS avg_humidity_pct,
       min(battery_pct) AS min_battery_pct
FROM ${TABLE}
GROUP BY dt, hour, device_id
ORDER BY dt DESC, hour DESC, device_id`,
  },
  {
    name: 'anomalies',
    description: 'Readings that need attention: device errors, failed sensors and temperature spikes.',
    sql: `SELECT event_time, device_id, site, status, temperature_c, humidity_pct, battery_pct,
       CASE
         WHEN temperature_c IS NULL THEN 'sensor failure'
         WHEN status = 'error' THEN 'device error'
         ELSE 'temperature spike'
       END AS anomaly
FROM ${TABLE}
WHERE status = 'error' OR temperature_c > 45 OR temperature_c IS NULL
ORDER BY event_time DESC, device_id`,
  },
  {
    name: 'site_summary',
    description: 'Per site: devices, readings, average temperature and share of readings that were not ok.',
    sql: `SELECT site,
       count(DISTINCT device_id) AS devices,
       count(*) AS readings,
       round(avg(temperature_c), 2) AS avg_temperature_c,
       round(100 * CAST(sum(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS double) / count(*), 2) AS not_ok_pct
FROM ${TABLE}
GROUP BY site
ORDER BY site`,
  },
  {
    name: 'ingestion_freshness',
    description: 'Per Kafka partition: rows in the lake, newest offset and record, event-to-ingest delay, and age of the newest record.',
    sql: `SELECT kafka_partition,
       count(*) AS rows_in_lake,
       max(kafka_offset) AS newest_offset,
       max(kafka_timestamp) AS newest_record,
       round(avg(date_diff('millisecond', event_time, kafka_timestamp)) / 1000.0, 1) AS avg_delay_s,
       date_diff('second', max(kafka_timestamp), CAST(current_timestamp AS timestamp)) AS newest_record_age_s
FROM ${TABLE}
GROUP BY kafka_partition
ORDER BY kafka_partition`,
  },
  {
    name: 'late_events',
    description: 'Per UTC hour of event time: events that reached Kafka more than 5 minutes after they were taken.',
    sql: `SELECT dt, hour,
       count(*) AS late_events,
       round(CAST(max(date_diff('millisecond', event_time, kafka_timestamp)) AS double) / 60000, 1) AS max_delay_min
FROM ${TABLE}
WHERE kafka_timestamp > event_time + INTERVAL '5' MINUTE
GROUP BY dt, hour
ORDER BY dt DESC, hour DESC`,
  },
];

export class UnknownQueryError extends Error {
  override name = 'UnknownQueryError';
}

/** The named query called `name`. */
export function namedQuery(name: string): NamedQuery {
  const query = NAMED_QUERIES.find((q) => q.name === name);
  if (!query) {
    throw new UnknownQueryError(`no named query ${JSON.stringify(name)}; run \`streamlake queries\` to list them (${NAMED_QUERIES.map((q) => q.name).join(', ')})`);
  }
  return query;
}
