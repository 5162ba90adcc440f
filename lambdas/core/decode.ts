import type { ColumnStore } from './column-batch.ts';
import { ABSENT, FlatJsonScanner, PRESENT } from './flat-json.ts';
import { InstantReader } from './instant-reader.ts';
import { NestedReader, type UnknownProperty } from './nested-values.ts';
import { NumberSources } from './number-sources.ts';
import { Rejection } from './rejection.ts';
import { daysOf, decodeScalar, epochMillisOf, integerProblem, stringProblem } from './scalar-values.ts';
import { heldAsValue, type ColumnSpec } from './schema.ts';
import { StringDictionary } from './string-dictionary.ts';
import type { TableSpec } from './table-declaration.ts';
import { ValueList } from './value-list.ts';
import type { NestedValue } from '../ports/parquet.ts';

export { QUARANTINE_REASONS, type QuarantineReason } from './rejection.ts';

/** Bounds a record must respect to enter the lake. */
export interface ValidationLimits {
  /** Largest accepted record value, in bytes. */
  readonly maxRecordBytes: number;
  /** How far the event time may lie before the Kafka timestamp (late data), in milliseconds. */
  readonly maxEventAgeMs: number;
  /** How far the event time may lie after the Kafka timestamp (clock skew), in milliseconds. */
  readonly maxEventFutureMs: number;
}

/** The limits as configured (sizes in bytes, windows in hours and minutes), converted to `ValidationLimits`. */
export function validationLimits(settings: { readonly maxRecordBytes: number; readonly maxEventAgeHours: number; readonly maxEventFutureMinutes: number }): ValidationLimits {
  return {
    maxRecordBytes: settings.maxRecordBytes,
    maxEventAgeMs: settings.maxEventAgeHours * 3_600_000,
    maxEventFutureMs: settings.maxEventFutureMinutes * 60_000,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * Decodes and validates record values against a table's declared fields into a row of numbers:
 * one slot per field, in declaration order, then one for `_extra` (the fields the declaration does
 * not name, as JSON text); timestamps as epoch milliseconds, strings as ids into the slot's
 * `StringDictionary`, decimal and nested values as indices into the slot's `ValueList`, NaN for
 * null. Records of flat tables are read by the `FlatJsonScanner` fast path, so a record costs no
 * object or string of its own; anything else (a table with decimal or nested fields, a record with
 * fields the declaration does not name) is parsed by `JSON.parse`, which also words every
 * rejection. One decoder serves one compactor run: its stores hold the run's strings and values.
 */
export class RecordDecoder {
  /**
   * Per slot (fields, then `_extra`), where its number points: the `StringDictionary` of a string
   * slot, the `ValueList` of a decimal or nested slot.
   */
  readonly dictionaries: readonly (ColumnStore | undefined)[];
  /** Where the event time is in the row. */
  readonly eventTimeIndex: number;
  /** Where `_extra` is in the row: the slots of the declared fields come first. */
  readonly extraIndex: number;
  private readonly fields: readonly ColumnSpec[];
  private readonly declared: ReadonlySet<string>;
  private readonly limits: ValidationLimits;
  /** The fast path, for tables whose every field fits a row slot as read. */
  private readonly scanner: FlatJsonScanner | undefined;
  private readonly instants = new InstantReader();
  /** For tables with decimal or nested fields: their reader, and each one's value until the record is accepted. */
  private readonly nested: NestedReader | undefined;
  private readonly held: NestedValue[];
  /** For tables with a decimal written as a JSON number: the numbers' exact text. */
  private readonly sources: NumberSources | undefined;

  constructor(table: TableSpec, limits: ValidationLimits) {
    const fields = table.fields;
    this.fields = fields;
    this.declared = new Set(fields.map((field) => field.name));
    this.limits = limits;
    this.eventTimeIndex = fields.findIndex((field) => field.name === table.eventTime);
    this.extraIndex = fields.length;
    this.dictionaries = [...fields.map(storeOf), new StringDictionary()];
    const flat = !fields.some((field) => heldAsValue(field.type));
    this.scanner = flat ? new FlatJsonScanner(fields.map((field) => ({ name: field.name, kind: scannedKind(field), hashed: field.type === 'string' }))) : undefined;
    this.sources = fields.some(takesNumberText) ? new NumberSources() : undefined;
    this.nested = flat ? undefined : new NestedReader(this.sources);
    this.held = new Array<NestedValue>(fields.length).fill(null);
  }

  /**
   * Decodes one record value into the first `extraIndex + 1` slots of `row`. Returns why the
   * record was rejected, or `undefined` when `row` holds a valid record. `kafkaTimestamp` anchors the
   * sane window for the event time, so the verdict depends only on the record.
   */
  decode(value: Uint8Array, kafkaTimestamp: number, row: Float64Array): Rejection | undefined {
    const limits = this.limits;
    if (value.byteLength > limits.maxRecordBytes) {
      return new Rejection('too_large', `value is ${value.byteLength} bytes, the limit is ${limits.maxRecordBytes}`);
    }
    if (!this.readPlain(value, row)) {
      const rejection = this.readGenerally(value, row);
      if (rejection) return rejection;
    }
    const eventTime = row[this.eventTimeIndex]!;
    if (eventTime < kafkaTimestamp - limits.maxEventAgeMs || eventTime > kafkaTimestamp + limits.maxEventFutureMs) {
      return new Rejection(
        'timestamp_out_of_range',
        `${this.fields[this.eventTimeIndex]!.name} ${new Date(eventTime).toISOString()} is outside the accepted window around the record timestamp ${new Date(kafkaTimestamp).toISOString()}`,
      );
    }
    if (this.nested) this.keepHeld(row);
    return undefined;
  }

  /** The fast path: true when the scanner read the record and every field is valid as read; false leaves the verdict to `readGenerally`. */
  private readPlain(value: Uint8Array, row: Float64Array): boolean {
    if (this.scanner === undefined || !this.scanner.scan(value)) return false;
    const { state, numbers, starts, ends, hashes } = this.scanner.values;
    const fields = this.fields;
    // A field the declaration does not name goes to `_extra`, which the general path writes.
    if (state[fields.length] !== ABSENT) return false;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (state[i] !== PRESENT) {
        if (!field.nullable) return false;
        row[i] = Number.NaN;
        continue;
      }
      switch (field.type) {
        case 'string': {
          const dictionary = this.dictionaries[i] as StringDictionary;
          let id = dictionary.find(value, starts[i]!, ends[i]!, hashes[i]!);
          if (id < 0) {
            const text = latin1.call(value, starts[i]!, ends[i]!);
            if (stringProblem(field, text, field.name)) return false;
            id = dictionary.add(text, value, starts[i]!, ends[i]!, hashes[i]!);
          }
          row[i] = id;
          break;
        }
        case 'timestamp': {
          const millis = scannedKind(field) === 'string' ? this.instants.read(value, starts[i]!, ends[i]!) : epochMillisOf(field, numbers[i]!);
          if (Number.isNaN(millis)) return false;
          row[i] = millis;
          break;
        }
        case 'date': {
          const days = daysOf(value, starts[i]!, ends[i]!);
          if (Number.isNaN(days)) return false;
          row[i] = days;
          break;
        }
        case 'double':
        case 'boolean':
          row[i] = numbers[i]!;
          break;
        case 'int':
        case 'bigint':
          if (!Number.isInteger(numbers[i]!) || integerProblem(field, numbers[i]!, field.name)) return false;
          row[i] = numbers[i]!;
      }
    }
    row[this.extraIndex] = Number.NaN;
    return true;
  }

  /** UTF-8 validation, `JSON.parse` and a check of each field: the path for whatever the fast path leaves. */
  private readGenerally(value: Uint8Array, row: Float64Array): Rejection | undefined {
    let text: string;
    try {
      text = utf8.decode(value);
    } catch {
      return new Rejection('not_utf8', 'value is not valid UTF-8');
    }
    let parsed: unknown;
    try {
      const sources = this.sources;
      sources?.clear();
      parsed = sources?.needsReviver(value) ? JSON.parse(text, sources.reviver) : JSON.parse(text);
    } catch (error) {
      return new Rejection('not_json', (error as Error).message);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return new Rejection('not_object', `value is JSON ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed}, expected an object`);
    }
    const input = parsed as Record<string, unknown>;
    const { fields, nested } = this;
    nested?.reset();
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      if (nested && heldAsValue(field.type)) {
        const held = nested.read(field, input);
        if (held instanceof Rejection) return held;
        this.held[i] = held;
        continue;
      }
      const result = decodeScalar(field, Object.hasOwn(input, field.name) ? input[field.name] : undefined, field.name);
      if (result instanceof Rejection) return result;
      row[i] = typeof result === 'string' ? (this.dictionaries[i] as StringDictionary).idOf(result) : (result ?? Number.NaN);
    }
    const extra = extraOf(input, this.declared, nested?.unknown ?? []);
    row[this.extraIndex] = extra === undefined ? Number.NaN : (this.dictionaries[this.extraIndex] as StringDictionary).idOf(extra);
    return undefined;
  }

  // Decimal and nested values enter their lists only once the record is accepted, so a rejected one leaves nothing behind.
  private keepHeld(row: Float64Array): void {
    for (let i = 0; i < this.fields.length; i++) {
      const list = this.dictionaries[i];
      if (!(list instanceof ValueList)) continue;
      const value = this.held[i]!;
      row[i] = value === null ? Number.NaN : list.add(value);
    }
  }

  /**
   * The fields the declaration does not name that this decoder has seen, sorted: top-level names,
   * and paths for properties of nested objects (`address.country`, `items[*].color`).
   */
  unknownFields(): string[] {
    const names = new Set<string>();
    for (const extra of (this.dictionaries[this.extraIndex] as StringDictionary).values) unknownNamesIn(JSON.parse(extra) as Record<string, unknown>, this.fields, '', names);
    return [...names].sort();
  }
}

function storeOf(field: ColumnSpec): ColumnStore | undefined {
  if (field.type === 'string') return new StringDictionary();
  return heldAsValue(field.type) ? new ValueList() : undefined;
}

/** Whether a field, or anything inside it, is a decimal that may be written as a JSON number. */
function takesNumberText(field: ColumnSpec): boolean {
  if (field.type === 'decimal') return field.decimalInput !== 'string';
  const inner = field.fields ?? [field.items ?? field.values].filter((column) => column !== undefined);
  return inner.some(takesNumberText);
}

/**
 * What `_extra` keeps of a record, as the JSON text of an object; undefined when there is nothing:
 * the top-level fields the declaration does not name, by name, and the undeclared properties of
 * nested objects at their place under the declared field, array items by index
 * (`{"address": {"country": "FR"}, "items": {"2": {"color": "red"}}}`).
 */
function extraOf(input: Record<string, unknown>, declared: ReadonlySet<string>, unknown: readonly UnknownProperty[]): string | undefined {
  // No prototype: a field named __proto__ is kept as a field like any other.
  let extra: Record<string, unknown> | undefined;
  for (const name of Object.keys(input)) if (!declared.has(name)) (extra ??= Object.create(null) as Record<string, unknown>)[name] = input[name];
  for (const { keys, value } of unknown) {
    let at = (extra ??= Object.create(null) as Record<string, unknown>);
    for (const key of keys.slice(0, -1)) at = (at[key] ??= Object.create(null)) as Record<string, unknown>;
    at[keys.at(-1)!] = value;
  }
  return extra === undefined ? undefined : JSON.stringify(extra);
}

/** Adds to `names` the path of every undeclared field in `extra`, which mirrors the fields of `declared` as `extraOf` writes it. */
function unknownNamesIn(extra: Record<string, unknown>, declared: readonly ColumnSpec[] | undefined, prefix: string, names: Set<string>): void {
  for (const [key, value] of Object.entries(extra)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const field = declared?.find((f) => f.name === key);
    if (field) unknownNamesWithin(field, value as Record<string, unknown>, path, names);
    else names.add(path);
  }
}

function unknownNamesWithin(field: ColumnSpec, kept: Record<string, unknown>, path: string, names: Set<string>): void {
  if (field.type === 'struct') return unknownNamesIn(kept, field.fields, path, names);
  const element = field.items ?? field.values;
  if (element) for (const inner of Object.values(kept)) unknownNamesWithin(element, inner as Record<string, unknown>, `${path}[*]`, names);
}

/** The kind of JSON value the fast path takes for a field; a timestamp that may also be a number leaves numbers to the general path. */
function scannedKind(field: ColumnSpec): 'string' | 'number' | 'boolean' {
  if (field.type === 'string' || field.type === 'date') return 'string';
  if (field.type === 'boolean') return 'boolean';
  if (field.type === 'timestamp') return field.timestampInput === 'epoch-millis' || field.timestampInput === 'epoch-seconds' ? 'number' : 'string';
  return 'number';
}
