import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketOfKey,
  checkpointKey,
  curatedKey as tableKey,
  curatedLocationTemplate,
  curatedPrefix,
  HOUR_DIGITS,
  quarantineKey,
  runFileStem,
  timeBucketOf,
  type TimeBucket,
} from '../../../lambdas/core/lake-layout.ts';
import { DEVICE_LOGS } from '../../helpers/tables.ts';

const CURATED_PREFIX = curatedPrefix(DEVICE_LOGS.name);
const CURATED_LOCATION_TEMPLATE = curatedLocationTemplate(DEVICE_LOGS);
type HourBucket = Required<TimeBucket>;
const hourBucketOf = (millis: number) => timeBucketOf(millis, 'hour') as HourBucket;
const curatedKey = (b: TimeBucket, sequence: number, runId: string) => tableKey(DEVICE_LOGS.name, b, runFileStem(sequence, runId));

const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

const pad = (value: number, digits: number) => String(value).padStart(digits, '0');

const instant = fc.integer({ min: FIRST_INSTANT, max: LAST_INSTANT });
const bucket: fc.Arbitrary<HourBucket> = instant.map(hourBucketOf);
// Run numbers count up from 1; run ids are 16 hex characters (see runIdOf).
const sequence = fc.integer({ min: 1, max: 999_999_999 });
const runId = fc.stringMatching(/^[0-9a-f]{16}$/);

function locationOf(b: HourBucket): string {
  return CURATED_LOCATION_TEMPLATE.replace('${dt}', b.dt).replace('${hour}', pad(b.hour, HOUR_DIGITS));
}

describe('timeBucketOf', () => {
  it('is the UTC date alone for a table partitioned by day', () => {
    expect(timeBucketOf(Date.parse('2026-12-31T23:59:59.999Z'), 'day')).toEqual({ dt: '2026-12-31' });
    expect(tableKey('orders', { dt: '2026-12-31' }, runFileStem(2, '0123456789abcdef'))).toBe('curated/orders/dt=2026-12-31/run-00000002-0123456789abcdef.parquet');
    expect(bucketOfKey(tableKey('orders', { dt: '2026-12-31' }, runFileStem(2, '0123456789abcdef')))).toEqual({ dt: '2026-12-31' });
    expect(curatedLocationTemplate({ ...DEVICE_LOGS, name: 'orders', partitionBy: 'day' })).toBe('curated/orders/dt=${dt}/');
  });

  it('is the UTC date and hour of the instant', () => {
    fc.assert(
      fc.property(instant, (millis) => {
        const date = new Date(millis);
        expect(hourBucketOf(millis)).toEqual({
          dt: `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`,
          hour: date.getUTCHours(),
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('puts the last millisecond of an hour and the first of the next into different buckets', () => {
    expect(hourBucketOf(Date.parse('2026-12-31T23:59:59.999Z'))).toEqual({ dt: '2026-12-31', hour: 23 });
    expect(hourBucketOf(Date.parse('2027-01-01T00:00:00.000Z'))).toEqual({ dt: '2027-01-01', hour: 0 });
    expect(hourBucketOf(Date.parse('1969-12-31T22:30:00Z'))).toEqual({ dt: '1969-12-31', hour: 22 });
  });
});

describe('curatedKey', () => {
  it('is a Parquet file under CURATED_PREFIX in dt=YYYY-MM-DD/hour=HH with a two-digit hour', () => {
    fc.assert(
      fc.property(bucket, sequence, runId, (b, seq, id) => {
        const key = curatedKey(b, seq, id);
        expect(key.startsWith(CURATED_PREFIX)).toBe(true);
        const rest = key.slice(CURATED_PREFIX.length);
        expect(rest).toMatch(/^dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[^/]+\.parquet$/);
        expect(rest.startsWith(`dt=${b.dt}/hour=${pad(b.hour, 2)}/`)).toBe(true);
        expect(rest).toContain(id);
      }),
    );
    expect(curatedKey({ dt: '2026-01-31', hour: 7 }, 3, '0123456789abcdef')).toMatch(/^curated\/device_logs\/dt=2026-01-31\/hour=07\//);
  });

  it('round-trips its bucket through bucketOfKey', () => {
    fc.assert(
      fc.property(bucket, sequence, runId, (b, seq, id) => {
        expect(bucketOfKey(curatedKey(b, seq, id))).toEqual(b);
      }),
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(bucket, sequence, runId, (b, seq, id) => {
        expect(curatedKey({ ...b }, seq, id)).toBe(curatedKey(b, seq, id));
      }),
    );
  });

  it('is distinct for distinct (bucket, sequence, runId)', () => {
    const args = fc.tuple(bucket, sequence, runId);
    // Each component of the second key is either shared with the first or drawn anew, so near-misses are common.
    const pair = fc.tuple(args, args, fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean())).map(([a, b, [sameDt, sameHour, sameSeq, sameId]]) => {
      const second: [HourBucket, number, string] = [
        { dt: sameDt ? a[0].dt : b[0].dt, hour: sameHour ? a[0].hour : b[0].hour },
        sameSeq ? a[1] : b[1],
        sameId ? a[2] : b[2],
      ];
      return [a, second] as const;
    });
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const sameArgs = a[0].dt === b[0].dt && a[0].hour === b[0].hour && a[1] === b[1] && a[2] === b[2];
        expect(curatedKey(...a) === curatedKey(...b)).toBe(sameArgs);
      }),
      { numRuns: 500 },
    );
  });

  it('lies under the projection location template of its bucket', () => {
    expect(CURATED_LOCATION_TEMPLATE.startsWith(CURATED_PREFIX)).toBe(true);
    expect(CURATED_LOCATION_TEMPLATE.split('${dt}')).toHaveLength(2);
    expect(CURATED_LOCATION_TEMPLATE.split('${hour}')).toHaveLength(2);
    fc.assert(
      fc.property(bucket, sequence, runId, (b, seq, id) => {
        const key = curatedKey(b, seq, id);
        expect(key.startsWith(locationOf(b))).toBe(true);
        // The file sits directly in the hour's directory, not in a subfolder of it.
        expect(key.slice(locationOf(b).length)).not.toContain('/');
      }),
    );
  });
});

describe('bucketOfKey', () => {
  it('is undefined for keys outside the curated table', () => {
    expect(bucketOfKey(quarantineKey(DEVICE_LOGS.name, '2026-01-31', 1, '0123456789abcdef'))).toBeUndefined();
    expect(bucketOfKey(checkpointKey(DEVICE_LOGS.name, 'streamlake-compactor'))).toBeUndefined();
    expect(bucketOfKey(`${CURATED_PREFIX}dt=2026-01-31/`)).toBeUndefined();
  });
});
