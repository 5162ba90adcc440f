import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { OutgoingRecord } from '../lambdas/ports/topic.ts';
import { MemoryTopic } from './memory-ports.ts';

const DAY_MS = 86_400_000;
const CITIES = ['Lisbon', 'Porto', 'Oslo', 'Berlin', 'Madrid', 'Lyon', 'Gdansk', 'Turin'];
const SKUS = Array.from({ length: 500 }, (_, i) => `SKU-${String(i).padStart(5, '0')}`);
const TAGS = ['new', 'promo', 'sale', 'bundle', 'clearance'];
const CHANNELS = ['web', 'app', 'store'];
const CAMPAIGNS = ['spring', 'newsletter', 'retargeting'];
const BATCH = 10_000;

/**
 * `count` purchases of the web shop, valid under `test/fixtures/tables-nested/purchases.schema.json`,
 * spread evenly over two days from `start` and produced to a 6-partition topic by `purchase_id`.
 * Every declared shape occurs: the address struct with its nested location (left out now and
 * then), 1–4 line items with string decimals and optional discounts, wrap flags and ISO shipping
 * times, tags, an attributes map, a date, booleans, and `fx_rate` as a string of 18 decimals, null
 * or absent. Decimals written as JSON numbers are cents: DuckDB reads a JSON number into a DECIMAL
 * through a double, exact for those but not for 18 decimals, where its file would hold other values.
 */
export async function purchasesTopic(count: number, start: number, seed: number): Promise<MemoryTopic> {
  const rng = xoroshiro128plus(seed);
  const chance = (share: number) => uniformFloat64(rng) < share;
  const pick = <T>(values: readonly T[]) => values[uniformInt(rng, 0, values.length - 1)]!;
  const digits = (count: number) => String(uniformInt(rng, 0, 10 ** count - 1)).padStart(count, '0');
  const topic = new MemoryTopic(6);
  const encoder = new TextEncoder();
  let batch: OutgoingRecord[] = [];
  for (let i = 0; i < count; i++) {
    const placedAt = start + Math.floor((i * 2 * DAY_MS) / count);
    let totalCents = 0;
    const items = Array.from({ length: uniformInt(rng, 1, 4) }, () => {
      const quantity = uniformInt(rng, 1, 5);
      const unitCents = uniformInt(rng, 99, 49_999);
      const discountCents = chance(0.25) ? uniformInt(rng, 1, unitCents) : 0;
      totalCents += quantity * unitCents - discountCents;
      return {
        sku: pick(SKUS),
        quantity,
        unit_price: (unitCents / 100).toFixed(2),
        ...(discountCents > 0 && { discount: discountCents / 100 }),
        gift_wrapped: chance(0.15),
        ...(chance(0.6) && { shipped_at: new Date(placedAt + uniformInt(rng, 3_600_000, 2 * DAY_MS)).toISOString() }),
      };
    });
    const purchaseId = `p-${String(i).padStart(9, '0')}`;
    const value = {
      purchase_id: purchaseId,
      placed_at: Math.floor(placedAt / 1000),
      delivery_date: new Date(placedAt + uniformInt(rng, 2, 6) * DAY_MS).toISOString().slice(0, 10),
      gift: chance(0.1),
      total: totalCents / 100,
      ...(chance(0.3) && { fx_rate: chance(0.5) ? `${uniformInt(rng, 0, 1)}.${digits(9)}${digits(9)}` : null }),
      address: {
        street: `Rua ${uniformInt(rng, 1, 999)}`,
        city: pick(CITIES),
        zip: String(uniformInt(rng, 1000, 9999)),
        // GPS fixes to 6 decimals (about 0.1 m), as a phone reports them.
        ...(chance(0.9) && { location: { lat: Math.round((38 + uniformFloat64(rng) * 15) * 1e6) / 1e6, lon: Math.round((-9 + uniformFloat64(rng) * 30) * 1e6) / 1e6 } }),
      },
      items,
      tags: Array.from({ length: uniformInt(rng, 0, 2) }, () => pick(TAGS)),
      attributes: { channel: pick(CHANNELS), ...(chance(0.2) && { campaign: pick(CAMPAIGNS) }) },
    };
    // Produced a second or two after it was placed.
    batch.push({ key: purchaseId, value: encoder.encode(JSON.stringify(value)), timestamp: placedAt + uniformInt(rng, 0, 2_000) });
    if (batch.length === BATCH) {
      await topic.produce(batch);
      batch = [];
    }
  }
  await topic.produce(batch);
  return topic;
}
