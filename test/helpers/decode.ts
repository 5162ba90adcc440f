import { RecordDecoder, type QuarantineReason, type ValidationLimits } from '../../lambdas/core/decode.ts';
import type { TableSpec } from '../../lambdas/core/table-declaration.ts';
import type { NestedValue } from '../../lambdas/ports/parquet.ts';
import { DEVICE_LOGS } from './tables.ts';

/** `RecordDecoder`'s verdict as one value, with the record as an object by field name (and `_extra`), for assertions. */
export type DecodeResult =
  | { readonly ok: true; readonly event: Record<string, NestedValue> }
  | { readonly ok: false; readonly reason: QuarantineReason; readonly detail: string };

const decoders = new Map<TableSpec, Map<ValidationLimits, RecordDecoder>>();

/** Decodes one record with a decoder kept per table and `limits`, as a compactor run keeps one for all its records. */
export function decodeRecord(value: Uint8Array, kafkaTimestamp: number, limits: ValidationLimits, table: TableSpec = DEVICE_LOGS): DecodeResult {
  const perLimits = decoders.get(table) ?? new Map<ValidationLimits, RecordDecoder>();
  decoders.set(table, perLimits);
  let decoder = perLimits.get(limits);
  if (!decoder) perLimits.set(limits, (decoder = new RecordDecoder(table, limits)));
  const row = new Float64Array(decoder.extraIndex + 1);
  const rejection = decoder.decode(value, kafkaTimestamp, row);
  if (rejection) return { ok: false, reason: rejection.reason, detail: rejection.detail };
  const names = [...table.fields.map((field) => field.name), '_extra'];
  return { ok: true, event: Object.fromEntries(names.map((name, i) => [name, valueOf(decoder, i, row[i]!)])) };
}

function valueOf(decoder: RecordDecoder, field: number, slot: number): NestedValue {
  if (Number.isNaN(slot)) return null;
  const dictionary = decoder.dictionaries[field];
  return dictionary ? dictionary.values[slot]! : slot;
}
