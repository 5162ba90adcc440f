import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { OutgoingRecord, TopicWriter } from '../ports/topic.ts';

/** Shape of the simulated fleet. */
export interface FleetOptions {
  /** Number of devices. */
  readonly devices: number;
  /** Events each device sends per minute. */
  readonly eventsPerDevicePerMinute: number;
  /** Seed: the same seed and minute always give the same events. */
  readonly seed: number;
  /** Share of events (0-1) whose reading arrives late, up to `maxLatenessMinutes` after it was taken. */
  readonly lateShare: number;
  readonly maxLatenessMinutes: number;
  /** Share of readings (0-1) that are anomalous: a temperature spike, a failed sensor or a device error. */
  readonly anomalyShare: number;
  /** Share of records (0-1) sent with a corrupt payload, as faulty firmware would: they end in quarantine. */
  readonly corruptShare: number;
}

/** What a device reports about itself (the `status` enum of `tables/device_logs.schema.json`). */
export type Status = 'ok' | 'warning' | 'error';

/** A generated device event, before serialization. */
export interface DeviceEvent {
  readonly device_id: string;
  readonly device_name: string;
  readonly site: string;
  readonly firmware: string;
  readonly event_time: string;
  readonly seq: number;
  readonly temperature_c: number | null;
  readonly humidity_pct: number | null;
  readonly battery_pct: number | null;
  readonly status: Status;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const SITES = ['north-greenhouse', 'south-greenhouse', 'cold-store', 'warehouse-a', 'warehouse-b'];
const FIRMWARE = ['2.3.1', '2.4.0', '2.4.1'];
const encoder = new TextEncoder();

/** Stable per-device traits, derived from the seed alone. */
interface DeviceProfile {
  readonly index: number;
  readonly id: string;
  readonly name: string;
  readonly site: string;
  readonly firmware: string;
  readonly baseTemperature: number;
  readonly dailySwing: number;
  readonly phase: number;
  readonly baseHumidity: number;
  readonly drainPerHour: number;
  readonly chargeOffset: number;
}

// Mixes integers into one 32-bit seed so every (seed, device, minute, …) gets an independent stream.
function mix(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part | 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(part / 0x1_0000_0000), 0x85ebca6b);
    h ^= h >>> 15;
  }
  return h | 0;
}

function randomStream(...parts: number[]) {
  const rng = xoroshiro128plus(mix(...parts));
  return {
    next: () => uniformFloat64(rng),
    int: (min: number, max: number) => uniformInt(rng, min, max),
  };
}

/** The simulated fleet: profiles once, then events for any minute, without state between minutes. */
export class DeviceFleet {
  readonly options: FleetOptions;
  private readonly profiles: DeviceProfile[];

  constructor(options: FleetOptions) {
    if (!Number.isInteger(options.devices) || options.devices < 1) throw new RangeError(`devices must be a positive integer, got ${options.devices}`);
    if (!Number.isInteger(options.eventsPerDevicePerMinute) || options.eventsPerDevicePerMinute < 1) {
      throw new RangeError(`eventsPerDevicePerMinute must be a positive integer, got ${options.eventsPerDevicePerMinute}`);
    }
    for (const share of ['lateShare', 'anomalyShare', 'corruptShare'] as const) {
      if (!(options[share] >= 0 && options[share] <= 1)) throw new RangeError(`${share} must be between 0 and 1, got ${options[share]}`);
    }
    if (options.lateShare > 0 && !(Number.isInteger(options.maxLatenessMinutes) && options.maxLatenessMinutes >= 1)) {
      throw new RangeError(`maxLatenessMinutes must be a positive integer when lateShare > 0, got ${options.maxLatenessMinutes}`);
    }
    this.options = options;
    this.profiles = Array.from({ length: options.devices }, (_, index) => this.profile(index));
  }

  private profile(index: number): DeviceProfile {
    const random = randomStream(this.options.seed, index, -1);
    const number = String(index + 1).padStart(5, '0');
    const site = SITES[random.int(0, SITES.length - 1)]!;
    return {
      index,
      id: `dev-${number}`,
      name: `${site} sensor ${number}`,
      site,
      firmware: FIRMWARE[random.int(0, FIRMWARE.length - 1)]!,
      baseTemperature: site === 'cold-store' ? 3 + random.next() * 3 : 17 + random.next() * 8,
      dailySwing: 1 + random.next() * 4,
      phase: random.next() * 2 * Math.PI,
      baseHumidity: 35 + random.next() * 30,
      drainPerHour: 0.2 + random.next() * 0.8,
      chargeOffset: random.next() * 90,
    };
  }

  /**
   * The events of the minute starting at `minuteStart` (epoch ms, a whole minute), in send order.
   * Each device's events come in its sequence order and are keyed by its id.
   */
  eventsForMinute(minuteStart: number): DeviceEvent[] {
    if (minuteStart % MINUTE_MS !== 0) throw new RangeError(`minuteStart must be a whole minute, got ${new Date(minuteStart).toISOString()}`);
    const minute = minuteStart / MINUTE_MS;
    const perMinute = this.options.eventsPerDevicePerMinute;
    const events: DeviceEvent[] = [];
    for (let slot = 0; slot < perMinute; slot++) {
      for (const device of this.profiles) {
        events.push(this.reading(device, minute, slot));
      }
    }
    return events;
  }

  private reading(device: DeviceProfile, minute: number, slot: number): DeviceEvent {
    const random = randomStream(this.options.seed, device.index, minute, slot);
    const { lateShare, maxLatenessMinutes, anomalyShare, eventsPerDevicePerMinute: perMinute } = this.options;
    let takenAt = minute * MINUTE_MS + Math.floor(((slot + random.next()) * MINUTE_MS) / perMinute);
    if (random.next() < lateShare) takenAt -= random.int(1, maxLatenessMinutes) * MINUTE_MS;

    const dayAngle = (2 * Math.PI * (takenAt % DAY_MS)) / DAY_MS;
    let temperature = device.baseTemperature + device.dailySwing * Math.sin(dayAngle + device.phase) + this.drift(device, takenAt) + (random.next() - 0.5) * 0.4;
    let humidity: number | null = clamp(device.baseHumidity - 1.5 * (temperature - device.baseTemperature) + (random.next() - 0.5) * 2, 0, 100);
    const battery = 100 - ((takenAt / HOUR_MS) * device.drainPerHour + device.chargeOffset) % 95;
    let status: Status = battery < 15 ? 'warning' : 'ok';
    let reportedTemperature: number | null = temperature;

    if (random.next() < anomalyShare) {
      const kind = random.int(0, 2);
      if (kind === 0) {
        temperature += 35 + random.next() * 20;
        reportedTemperature = temperature;
        status = 'warning';
      } else if (kind === 1) {
        reportedTemperature = null;
        humidity = null;
        status = 'error';
      } else {
        status = 'error';
      }
    }
    return {
      device_id: device.id,
      device_name: device.name,
      site: device.site,
      firmware: device.firmware,
      event_time: new Date(takenAt).toISOString(),
      seq: minute * perMinute + slot,
      temperature_c: reportedTemperature === null ? null : round(reportedTemperature, 2),
      humidity_pct: humidity === null ? null : round(humidity, 1),
      battery_pct: round(battery, 1),
      status,
    };
  }

  // A slow random walk made smooth: values hashed at each hour, interpolated with a cosine.
  private drift(device: DeviceProfile, at: number): number {
    const hour = Math.floor(at / HOUR_MS);
    const t = (at % HOUR_MS) / HOUR_MS;
    const knot = (h: number) => (randomStream(this.options.seed, device.index, h, -2).next() - 0.5) * 3;
    const weight = (1 - Math.cos(Math.PI * t)) / 2;
    return knot(hour) * (1 - weight) + knot(hour + 1) * weight;
  }

  /**
   * The records to produce for a minute: JSON values keyed by device, stamped `producedAt`.
   * A `corruptShare` of them carries a payload the compactor must quarantine.
   */
  recordsForMinute(minuteStart: number, producedAt: number): OutgoingRecord[] {
    const corrupt = randomStream(this.options.seed, minuteStart / MINUTE_MS, -3);
    return this.eventsForMinute(minuteStart).map((event) => ({
      key: event.device_id,
      value: corrupt.next() < this.options.corruptShare ? corruptPayload(event, corrupt.int(0, 2)) : encoder.encode(JSON.stringify(event)),
      timestamp: producedAt,
    }));
  }
}

/** What one generator run sent. */
export interface GeneratorReport {
  readonly minuteStart: number;
  readonly records: number;
  readonly bytes: number;
}

/**
 * One generator run: the fleet's records for the minute before `now`, produced to the topic.
 * The scheduled Lambda and the local runner both call this.
 */
export async function produceMinute(fleet: DeviceFleet, writer: TopicWriter, now: number): Promise<GeneratorReport> {
  const minuteStart = Math.floor(now / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
  const records = fleet.recordsForMinute(minuteStart, now);
  await writer.produce(records);
  return { minuteStart, records: records.length, bytes: records.reduce((sum, r) => sum + r.value.byteLength, 0) };
}

function corruptPayload(event: DeviceEvent, kind: number): Uint8Array {
  const json = JSON.stringify(event);
  if (kind === 0) return encoder.encode(json.slice(0, Math.floor(json.length / 2))); // truncated in transit
  if (kind === 1) return encoder.encode(JSON.stringify({ ...event, temperature_c: String(event.temperature_c) })); // firmware bug: number as text
  return encoder.encode(JSON.stringify({ ...event, event_time: undefined })); // clock not set
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
