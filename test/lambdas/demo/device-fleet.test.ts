import { describe, expect, it } from 'vitest';
import type { ValidationLimits } from '../../../lambdas/core/decode.ts';
import { decodeRecord } from '../../helpers/decode.ts';
import { DeviceFleet, produceMinute, type DeviceEvent, type FleetOptions } from '../../../lambdas/demo/device-fleet.ts';
import type { OutgoingRecord, TopicWriter } from '../../../lambdas/ports/topic.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
// 10:00 UTC, so a two-hour window crosses hour boundaries where the drift switches knots.
const MINUTE = Date.parse('2026-01-31T10:00:00Z');
const LIMITS: ValidationLimits = { maxRecordBytes: 65_536, maxEventAgeMs: 7 * DAY_MS, maxEventFutureMs: 15 * MINUTE_MS };

const CALM: FleetOptions = {
  devices: 20,
  eventsPerDevicePerMinute: 1,
  seed: 42,
  lateShare: 0,
  maxLatenessMinutes: 90,
  anomalyShare: 0,
  corruptShare: 0,
};
const ROUGH: FleetOptions = { ...CALM, lateShare: 0.1, anomalyShare: 0.05, corruptShare: 0.2 };

function fleet(options: Partial<FleetOptions> = {}): DeviceFleet {
  return new DeviceFleet({ ...CALM, ...options });
}

/** The events of `count` consecutive minutes from `start`, grouped by device in send order. */
function eventsByDevice(f: DeviceFleet, start: number, count: number): Map<string, DeviceEvent[]> {
  const byDevice = new Map<string, DeviceEvent[]>();
  for (let m = 0; m < count; m++) {
    for (const event of f.eventsForMinute(start + m * MINUTE_MS)) {
      const list = byDevice.get(event.device_id) ?? [];
      list.push(event);
      byDevice.set(event.device_id, list);
    }
  }
  return byDevice;
}

class RecordingWriter implements TopicWriter {
  readonly batches: (readonly OutgoingRecord[])[] = [];
  closed = false;

  async produce(records: readonly OutgoingRecord[]): Promise<void> {
    this.batches.push(records);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('DeviceFleet', () => {
  it('generates identical events and records for the same seed and minute', () => {
    expect(fleet(ROUGH).eventsForMinute(MINUTE)).toEqual(fleet(ROUGH).eventsForMinute(MINUTE));
    expect(fleet(ROUGH).recordsForMinute(MINUTE, MINUTE + MINUTE_MS)).toEqual(fleet(ROUGH).recordsForMinute(MINUTE, MINUTE + MINUTE_MS));
  });

  it('generates different events for a different seed', () => {
    const a = fleet({ ...ROUGH, seed: 1 }).eventsForMinute(MINUTE);
    const b = fleet({ ...ROUGH, seed: 2 }).eventsForMinute(MINUTE);
    expect(a).toHaveLength(b.length);
    expect(a).not.toEqual(b);
    expect(a.map((e) => e.temperature_c)).not.toEqual(b.map((e) => e.temperature_c));
  });

  it('generates different events for a different minute', () => {
    expect(fleet().eventsForMinute(MINUTE)).not.toEqual(fleet().eventsForMinute(MINUTE + MINUTE_MS));
  });

  it('keys each record of a minute by the device_id it carries', () => {
    const f = fleet({ ...ROUGH, devices: 50 });
    const records = f.recordsForMinute(MINUTE, MINUTE + MINUTE_MS);
    expect(records).toHaveLength(50);
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `dev-${String(i + 1).padStart(5, '0')}`)));
    let valid = 0;
    for (const record of records) {
      const decoded = decodeRecord(record.value, record.timestamp, LIMITS);
      if (!decoded.ok) continue;
      valid++;
      expect(record.key).toBe(decoded.event.device_id);
    }
    // Corrupt ones are skipped above; make sure most were checked.
    expect(valid).toBeGreaterThan(25);
    expect(valid).toBeLessThan(50);
  });

  it('increases each device’s seq strictly across consecutive minutes', () => {
    for (const eventsPerDevicePerMinute of [1, 3]) {
      const byDevice = eventsByDevice(fleet({ ...ROUGH, eventsPerDevicePerMinute }), MINUTE, 10);
      expect(byDevice.size).toBe(CALM.devices);
      for (const [device, events] of byDevice) {
        expect(events, device).toHaveLength(10 * eventsPerDevicePerMinute);
        for (let i = 1; i < events.length; i++) expect(events[i]!.seq, device).toBeGreaterThan(events[i - 1]!.seq);
      }
    }
  });

  it('makes about lateShare of events late, none later than maxLatenessMinutes', () => {
    const lateShare = 0.1;
    const maxLatenessMinutes = 20;
    const f = fleet({ devices: 200, lateShare, maxLatenessMinutes });
    let late = 0;
    let total = 0;
    for (let m = 0; m < 30; m++) {
      const minuteStart = MINUTE + m * MINUTE_MS;
      for (const event of f.eventsForMinute(minuteStart)) {
        const takenAt = Date.parse(event.event_time);
        total++;
        if (takenAt < minuteStart) late++;
        expect(takenAt).toBeGreaterThanOrEqual(minuteStart - maxLatenessMinutes * MINUTE_MS);
        expect(takenAt).toBeLessThan(minuteStart + MINUTE_MS);
      }
    }
    expect(total).toBe(6_000);
    // 6000 draws at p = 0.1: the standard deviation is about 23 events, so ±120 is five of them.
    expect(late).toBeGreaterThan(480);
    expect(late).toBeLessThan(720);
  });

  it('takes every reading within its minute when lateShare is 0', () => {
    for (const event of fleet({ devices: 100 }).eventsForMinute(MINUTE)) {
      const takenAt = Date.parse(event.event_time);
      expect(takenAt).toBeGreaterThanOrEqual(MINUTE);
      expect(takenAt).toBeLessThan(MINUTE + MINUTE_MS);
    }
  });

  it('rejects maxLatenessMinutes below 1 when events can be late, naming it', () => {
    expect(() => fleet({ lateShare: 0.5, maxLatenessMinutes: 0 })).toThrow(/maxLatenessMinutes/);
    expect(() => fleet({ lateShare: 0, maxLatenessMinutes: 0 })).not.toThrow();
  });

  it('drifts readings smoothly from one minute to the next when there is no anomaly', () => {
    const byDevice = eventsByDevice(fleet({ devices: 50, lateShare: 0.1, maxLatenessMinutes: 5 }), MINUTE, 120);
    for (const [device, events] of byDevice) {
      for (let i = 1; i < events.length; i++) {
        const before = events[i - 1]!;
        const after = events[i]!;
        expect(before.status, device).not.toBe('error');
        if (before.temperature_c === null || after.temperature_c === null) throw new Error(`${device}: a failed sensor without anomalies`);
        // Late readings were taken up to 5 minutes earlier: the gap is then a few minutes, still far below a degree.
        expect(Math.abs(after.temperature_c - before.temperature_c), `${device} ${after.event_time}`).toBeLessThan(1.5);
      }
    }
  });

  it('makes every reading anomalous when anomalyShare is 1', () => {
    for (const event of fleet({ devices: 100, anomalyShare: 1 }).eventsForMinute(MINUTE)) {
      const spike = event.status === 'warning' && event.temperature_c !== null && event.temperature_c > 35;
      const failedSensor = event.status === 'error' && event.temperature_c === null && event.humidity_pct === null;
      const deviceError = event.status === 'error' && event.temperature_c !== null;
      expect(spike || failedSensor || deviceError, JSON.stringify(event)).toBe(true);
    }
  });

  it('sends only records that decode when corruptShare is 0', () => {
    const f = fleet({ devices: 100, lateShare: 0.2, anomalyShare: 0.1, corruptShare: 0 });
    for (let m = 0; m < 5; m++) {
      const minuteStart = MINUTE + m * MINUTE_MS;
      for (const record of f.recordsForMinute(minuteStart, minuteStart + MINUTE_MS + 5_000)) {
        const decoded = decodeRecord(record.value, record.timestamp, LIMITS);
        expect(decoded, new TextDecoder().decode(record.value)).toMatchObject({ ok: true });
      }
    }
  });

  it('sends only records that are quarantined when corruptShare is 1', () => {
    const f = fleet({ devices: 100, lateShare: 0.2, anomalyShare: 0.1, corruptShare: 1 });
    const reasons = new Set<string>();
    for (let m = 0; m < 5; m++) {
      const minuteStart = MINUTE + m * MINUTE_MS;
      for (const record of f.recordsForMinute(minuteStart, minuteStart + MINUTE_MS + 5_000)) {
        const decoded = decodeRecord(record.value, record.timestamp, LIMITS);
        expect(decoded.ok, new TextDecoder().decode(record.value)).toBe(false);
        if (!decoded.ok) reasons.add(decoded.reason);
      }
    }
    // Each kind of corruption shows up: truncated JSON, a number sent as text, a missing clock.
    expect([...reasons].sort()).toEqual(['missing_field', 'not_json', 'wrong_type']);
  });

  it('sends eventsPerDevicePerMinute events per device, at distinct times within the minute', () => {
    const perMinute = 4;
    const events = fleet({ eventsPerDevicePerMinute: perMinute }).eventsForMinute(MINUTE);
    expect(events).toHaveLength(CALM.devices * perMinute);
    for (const [device, own] of eventsByDevice(fleet({ eventsPerDevicePerMinute: perMinute }), MINUTE, 1)) {
      expect(own, device).toHaveLength(perMinute);
      const times = own.map((e) => Date.parse(e.event_time));
      expect(new Set(times).size, device).toBe(perMinute);
      for (const t of times) {
        expect(t).toBeGreaterThanOrEqual(MINUTE);
        expect(t).toBeLessThan(MINUTE + MINUTE_MS);
      }
      // Send order is time order for on-time readings.
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });

  it('rejects a fleet without devices or without events', () => {
    expect(() => fleet({ devices: 0 })).toThrow(RangeError);
    expect(() => fleet({ devices: 0 })).toThrow(/devices/);
    expect(() => fleet({ devices: 1.5 })).toThrow(/devices/);
    expect(() => fleet({ eventsPerDevicePerMinute: 0 })).toThrow(/eventsPerDevicePerMinute/);
  });

  it('rejects a share outside 0-1, naming it', () => {
    expect(() => fleet({ corruptShare: 1.5 })).toThrow(/corruptShare/);
    expect(() => fleet({ lateShare: -0.1 })).toThrow(/lateShare/);
    expect(() => fleet({ anomalyShare: Number.NaN })).toThrow(/anomalyShare/);
  });

  it('rejects a minute start that is not a whole minute', () => {
    expect(() => fleet().eventsForMinute(MINUTE + 1_000)).toThrow(RangeError);
  });
});

describe('produceMinute', () => {
  it('produces the records of the minute before now and reports their count and bytes', async () => {
    const f = fleet(ROUGH);
    const writer = new RecordingWriter();
    const now = MINUTE + 5 * MINUTE_MS + 30_250;
    const report = await produceMinute(f, writer, now);

    const minuteStart = MINUTE + 4 * MINUTE_MS;
    expect(writer.batches).toHaveLength(1);
    const records = writer.batches[0]!;
    expect(records).toEqual(f.recordsForMinute(minuteStart, now));
    expect(records.every((r) => r.timestamp === now)).toBe(true);
    expect(report).toEqual({
      minuteStart,
      records: CALM.devices,
      bytes: records.reduce((sum, r) => sum + r.value.byteLength, 0),
    });
    expect(report.bytes).toBeGreaterThan(0);
    expect(writer.closed).toBe(false);
  });

  it('produces the previous minute when now is exactly on a minute', async () => {
    const writer = new RecordingWriter();
    const report = await produceMinute(fleet(), writer, MINUTE);
    expect(report.minuteStart).toBe(MINUTE - MINUTE_MS);
    const times = writer.batches.flat().map((r) => Date.parse(JSON.parse(new TextDecoder().decode(r.value)).event_time as string));
    expect(times.every((t) => t >= MINUTE - MINUTE_MS && t < MINUTE)).toBe(true);
  });
});
