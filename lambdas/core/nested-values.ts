import type { NestedValue } from '../ports/parquet.ts';
import { unscaledDecimal } from './decimal.ts';
import type { NumberSources } from './number-sources.ts';
import { Rejection } from './rejection.ts';
import { decodeScalar } from './scalar-values.ts';
import type { ColumnSpec } from './schema.ts';

/** A property no declaration names, found inside a nested value: its keys from the record's top (array indices as strings) and its value. */
export interface UnknownProperty {
  readonly keys: readonly string[];
  readonly value: unknown;
}

type Read = NestedValue | Rejection;

// How a step of a path is written: `.city`, `[2]`, `["EUR"]` (the first step bare).
const FIELD = 0;
const INDEX = 1;
const KEY = 2;
type Step = typeof FIELD | typeof INDEX | typeof KEY;

/**
 * Validates the value of a decimal or nested field as `JSON.parse` gave it, recursively, and turns
 * it into the `NestedValue` the Parquet encoder takes. A rejection names the path of what is wrong
 * (`items[2].sku is required`); properties of nested objects the declaration does not name are
 * collected in `unknown`, so the record keeps them in `_extra`.
 */
export class NestedReader {
  /** The undeclared properties `read` met since `reset`. */
  readonly unknown: UnknownProperty[] = [];
  private readonly sources: NumberSources | undefined;
  // The path of the value being read, as keys (array indices as numbers) and how each is written.
  private readonly keys: (string | number)[] = [];
  private readonly steps: Step[] = [];
  // The path, worded only when a message needs it: most values are valid and never need it.
  private readonly here = { toString: () => this.keys.map((key, i) => pathStep(key, this.steps[i]!, i === 0)).join('') };
  private readonly declared = new WeakMap<ColumnSpec, ReadonlySet<string>>();

  /** `sources`: the exact text of the parsed numbers, where a decimal may be written as a number. */
  constructor(sources: NumberSources | undefined) {
    this.sources = sources;
  }

  reset(): void {
    this.unknown.length = 0;
  }

  /** The value of top-level `field` in the parsed record `record`: valid, null where allowed, or why not. */
  read(field: ColumnSpec, record: Readonly<Record<string, unknown>>): Read {
    this.keys.length = 0;
    this.steps.length = 0;
    return this.within(field.name, FIELD, field, Object.hasOwn(record, field.name) ? record[field.name] : undefined, record);
  }

  /** The value at `holder[key]`, a step of kind `step` down the path. */
  private within(key: string | number, step: Step, field: ColumnSpec, raw: unknown, holder: object): Read {
    this.keys.push(key);
    this.steps.push(step);
    const value = this.valueOf(field, raw, holder, key, step !== FIELD);
    this.keys.pop();
    this.steps.pop();
    return value;
  }

  /** `item` when the value is an array's item or a map's value. */
  private valueOf(field: ColumnSpec, raw: unknown, holder: object, key: string | number, item: boolean): Read {
    if (raw === undefined || raw === null) {
      if (field.nullable) return null;
      // An item is never missing, only null where its type has no "null".
      return item ? new Rejection('wrong_type', `${this.here} is null, which its declared type does not admit`) : new Rejection('missing_field', `${this.here} is required`);
    }
    switch (field.type) {
      case 'struct':
        return this.struct(field, raw);
      case 'array':
        return this.array(field.items!, raw);
      case 'map':
        return this.map(field.values!, raw);
      case 'decimal':
        return this.decimal(field, raw, holder, String(key));
      default: {
        const value = decodeScalar(field, raw, this.here);
        if (value instanceof Rejection || value === null) return value;
        // The row slot's forms, turned into the ones the encoder takes inside a nested column.
        if (field.type === 'boolean') return value === 1;
        return field.type === 'bigint' ? BigInt(value) : value;
      }
    }
  }

  private struct(field: ColumnSpec, raw: unknown): Read {
    if (!isRecord(raw)) return this.wrongType('an object', raw);
    // No prototype: a field named __proto__ stays a field.
    const struct: Record<string, NestedValue> = Object.create(null);
    for (const child of field.fields!) {
      const value = this.within(child.name, FIELD, child, Object.hasOwn(raw, child.name) ? raw[child.name] : undefined, raw);
      if (value instanceof Rejection) return value;
      struct[child.name] = value;
    }
    const declared = this.namesOf(field);
    for (const name of Object.keys(raw)) if (!declared.has(name)) this.unknown.push({ keys: [...this.keys.map(String), name], value: raw[name] });
    return struct;
  }

  private array(items: ColumnSpec, raw: unknown): Read {
    if (!Array.isArray(raw)) return this.wrongType('an array', raw);
    const array: NestedValue[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const value = this.within(i, INDEX, items, raw[i], raw);
      if (value instanceof Rejection) return value;
      array[i] = value;
    }
    return array;
  }

  private map(values: ColumnSpec, raw: unknown): Read {
    if (!isRecord(raw)) return this.wrongType('an object', raw);
    const entries: NestedValue[] = [];
    for (const key of Object.keys(raw)) {
      const value = this.within(key, KEY, values, raw[key], raw);
      if (value instanceof Rejection) return value;
      entries.push([key, value]);
    }
    return entries;
  }

  private decimal(field: ColumnSpec, raw: unknown, holder: object, key: string): Read {
    const { decimalInput } = field;
    const precision = field.precision!;
    const scale = field.scale!;
    let text: string;
    if (typeof raw === 'number' && decimalInput !== 'string') text = this.sources ? this.sources.textOf(holder, key, raw) : String(raw);
    else if (typeof raw === 'string' && decimalInput !== 'number') text = raw;
    else return this.wrongType({ number: 'a number', string: 'a string of digits', 'number-or-string': 'a number or a string of digits' }[decimalInput ?? 'number'], raw);
    const unscaled = unscaledDecimal(text, precision, scale);
    if (typeof unscaled === 'bigint') return unscaled;
    const written = typeof raw === 'string' ? JSON.stringify(raw) : text;
    return new Rejection('invalid_value', `${this.here} must be a decimal(${precision},${scale}), got ${written}, which ${unscaled.problem}`);
  }

  private wrongType(expected: string, raw: unknown): Rejection {
    return new Rejection('wrong_type', `${this.here} must be ${expected}, got ${Array.isArray(raw) ? 'array' : typeof raw}`);
  }

  private namesOf(struct: ColumnSpec): ReadonlySet<string> {
    let names = this.declared.get(struct);
    if (!names) this.declared.set(struct, (names = new Set(struct.fields!.map((field) => field.name))));
    return names;
  }
}

function pathStep(key: string | number, step: Step, first: boolean): string {
  if (step === INDEX) return `[${key}]`;
  if (step === KEY) return `[${JSON.stringify(key)}]`;
  return first ? String(key) : `.${key}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
