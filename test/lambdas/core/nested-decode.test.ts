import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTables, tableNamed } from '../../../lambdas/adapters/table-directory.ts';
import { RecordDecoder } from '../../../lambdas/core/decode.ts';
import { ValueList } from '../../../lambdas/core/value-list.ts';
import { decodeRecord } from '../../helpers/decode.ts';

const PURCHASES = tableNamed(loadTables(fileURLToPath(new URL('../../fixtures/tables-nested', import.meta.url))), 'purchases');
const LIMITS = { maxRecordBytes: 65_536, maxEventAgeMs: 86_400_000, maxEventFutureMs: 60_000 };
const PLACED = Date.parse('2026-03-01T10:00:00Z');
const DAY_MS = 86_400_000;

const ITEM = { sku: 'A-1', quantity: 2, unit_price: '19.99', gift_wrapped: true, shipped_at: '2026-03-02T10:00:00Z' };

/** A purchase's JSON text: `total` is spliced in as written, so a number keeps digits no double holds. */
function purchase(overrides: Record<string, unknown> = {}, total = '12345678901234567.89'): string {
  const value = {
    purchase_id: 'p-1', placed_at: PLACED / 1000, delivery_date: '2026-03-04', gift: true,
    address: { street: 'Rua Augusta 1', city: 'Lisbon', zip: '1100-048', location: { lat: 38.7077, lon: -9.1365 } },
    items: [ITEM, { sku: 'B-2', quantity: 1, unit_price: '5' }], tags: ['new', 'promo'], attributes: { channel: 'web' }, ...overrides,
  };
  return JSON.stringify(value).replace(/^\{/, `{"total":${total},`);
}

const decode = (text: string) => decodeRecord(new TextEncoder().encode(text), PLACED, LIMITS, PURCHASES);

describe('RecordDecoder on a table with nested and decimal fields', () => {
  it('reads structs, arrays of structs and of scalars, maps and decimals into the values the encoder takes', () => {
    expect(decode(purchase())).toEqual({
      ok: true,
      event: {
        purchase_id: 'p-1', placed_at: PLACED, delivery_date: Date.UTC(2026, 2, 4) / DAY_MS, gift: 1,
        total: 1234567890123456789n, fx_rate: null,
        address: { street: 'Rua Augusta 1', city: 'Lisbon', zip: '1100-048', location: { lat: 38.7077, lon: -9.1365 } },
        items: [
          { sku: 'A-1', quantity: 2, unit_price: 1999n, discount: null, gift_wrapped: true, shipped_at: Date.parse('2026-03-02T10:00:00Z') },
          { sku: 'B-2', quantity: 1, unit_price: 500n, discount: null, gift_wrapped: null, shipped_at: null },
        ],
        tags: ['new', 'promo'], attributes: [['channel', 'web']], _extra: null,
      },
    });
  });

  it.each([
    ['12345678901234567.89', 1234567890123456789n],
    ['-0.10', -10n],
    ['1.50', 150n],
    ['1.5e1', 1500n],
    ['9999999999999999999e-2', 9999999999999999999n],
    // 2^53 + 1: the first integer a double rounds, with 16 digits.
    ['9007199254740993', 900719925474099300n],
  ])('keeps the decimal %s exact as decimal(19,2): it is read from the JSON text, never through a double', (total, unscaled) => {
    expect(decode(purchase({}, total))).toMatchObject({ ok: true, event: { total: unscaled } });
  });

  it('reads a decimal declared as number or string from either, and from the exact text of a number nested in arrays and structs', () => {
    expect(decode(purchase({ fx_rate: '1.123456789012345678' }))).toMatchObject({ ok: true, event: { fx_rate: 1123456789012345678n } });
    const nested = purchase({ items: [{ ...ITEM, discount: 'DISCOUNT' }] }).replace('"DISCOUNT"', '1234567890.12');
    expect(decode(nested.replace('"fx_rate"', '"x"'))).toMatchObject({ ok: true, event: { items: [{ discount: 123456789012n }] } });
    expect(decode(purchase({ fx_rate: 'FX' }).replace('"FX"', '0.100000000000000001'))).toMatchObject({ ok: true, event: { fx_rate: 100000000000000001n } });
    // A repeated key keeps its last value, as JSON.parse does, and the text of that value.
    expect(decode(purchase({}, '12345678901234567.89, "total": 1'))).toMatchObject({ ok: true, event: { total: 100n } });
  });

  it.each([
    ['a decimal with more digits after the point than its scale', purchase({}, '1.234'), 'invalid_value', 'total must be a decimal(19,2), got 1.234, which has more than 2 digits after the point'],
    ['a decimal with more digits before the point than precision - scale', purchase({}, '123456789012345678'), 'invalid_value', 'total must be a decimal(19,2), got 123456789012345678, which has more than 17 digits before the point'],
    ['a decimal declared as a number, written as a string', purchase({}, '"1.00"'), 'wrong_type', 'total must be a number, got string'],
    ['a string decimal that is not a number', purchase({ items: [{ ...ITEM, unit_price: '1,99' }] }), 'invalid_value', 'items[0].unit_price must be a decimal(9,2), got "1,99", which is not a number'],
    ['a required field of a struct missing', purchase({ address: { zip: '1100' } }), 'missing_field', 'address.city is required'],
    ['a nested check failing', purchase({ address: { city: '' } }), 'invalid_value', 'address.city must not be empty'],
    ['a struct of a struct missing a required field', purchase({ address: { city: 'Lisbon', location: { lat: 1 } } }), 'missing_field', 'address.location.lon is required'],
    ['a struct that is not an object', purchase({ address: 'Lisbon' }), 'wrong_type', 'address must be an object, got string'],
    ['an array that is not an array', purchase({ items: { sku: 'A-1' } }), 'wrong_type', 'items must be an array, got object'],
    ['a required array missing', purchase({ items: undefined }), 'missing_field', 'items is required'],
    ['an item out of its declared range', purchase({ items: [ITEM, { ...ITEM, quantity: 0 }] }), 'invalid_value', 'items[1].quantity must be within [1, 1000], got 0'],
    ['a nested timestamp without a zone', purchase({ items: [{ ...ITEM, shipped_at: '2026-03-02T10:00:00' }] }), 'invalid_value', 'items[0].shipped_at must be an ISO-8601 date-time with a zone (e.g. 2026-01-31T12:00:00Z), got "2026-03-02T10:00:00"'],
    ['a null item where items are not nullable', purchase({ tags: ['new', null] }), 'wrong_type', 'tags[1] is null, which its declared type does not admit'],
    ['a map value of the wrong type', purchase({ attributes: { channel: 'web', 'sales rep': 7 } }), 'wrong_type', 'attributes["sales rep"] must be a string, got number'],
    ['a map that is an array', purchase({ attributes: ['web'] }), 'wrong_type', 'attributes must be an object, got array'],
  ])('quarantines %s, naming its path', (_, text, reason, detail) => {
    expect(decode(text)).toEqual({ ok: false, reason, detail });
  });

  it('keeps the properties nested objects carry that the declaration does not name in _extra, where they sit, and reports their paths', () => {
    const decoder = new RecordDecoder(PURCHASES, LIMITS);
    const row = new Float64Array(decoder.extraIndex + 1);
    const text = purchase({ address: { city: 'Lisbon', country: 'PT' }, items: [ITEM, { ...ITEM, color: 'red', size: { eu: 42 } }], attributes: { __proto__: 'kept' }, coupon: 'SPRING' });
    expect(decoder.decode(new TextEncoder().encode(text.replace('"attributes":{}', '"attributes":{"__proto__":"kept"}')), PLACED, row)).toBeUndefined();
    const extra = (decoder.dictionaries[decoder.extraIndex] as { values: string[] }).values[row[decoder.extraIndex]!]!;
    expect(JSON.parse(extra)).toEqual({ coupon: 'SPRING', address: { country: 'PT' }, items: { 1: { color: 'red', size: { eu: 42 } } } });
    const attributes = decoder.dictionaries[PURCHASES.fields.findIndex((f) => f.name === 'attributes')] as ValueList;
    expect(attributes.values[row[PURCHASES.fields.findIndex((f) => f.name === 'attributes')]!]).toEqual([['__proto__', 'kept']]);
    expect(decoder.unknownFields()).toEqual(['address.country', 'coupon', 'items[*].color', 'items[*].size']);
  });

  it('keeps nothing of a record it rejects: its nested values never enter the lists the rows point into', () => {
    const decoder = new RecordDecoder(PURCHASES, LIMITS);
    const row = new Float64Array(decoder.extraIndex + 1);
    const lists = decoder.dictionaries.filter((store): store is ValueList => store instanceof ValueList);
    expect(lists.length).toBe(6);
    const late = purchase({ placed_at: PLACED / 1000 + 3_600 });
    const badTail = purchase({ attributes: { n: 1 } });
    for (const text of [late, badTail]) expect(decoder.decode(new TextEncoder().encode(text), PLACED, row)).toBeDefined();
    expect(lists.map((list) => list.values.length)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(decoder.decode(new TextEncoder().encode(purchase()), PLACED, row)).toBeUndefined();
    // total, fx_rate (null: no value), address, items, tags, attributes
    expect(lists.map((list) => list.values.length)).toEqual([1, 0, 1, 1, 1, 1]);
  });
});
