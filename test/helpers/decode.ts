import { EventDecoder, type QuarantineReason, type ValidationLimits } from '../../lambdas/core/decode.ts';
import { EVENT_FIELDS } from '../../lambdas/core/schema.ts';

/** `EventDecoder`'s verdict as one value, with the event as an object by field name, for assertions. */
export type DecodeResult =
  | { readonly ok: true; readonly event: Record<string, string | number | null> }
  | { readonly ok: false; readonly reason: QuarantineReason; readonly detail: string };

const decoders = new Map<ValidationLimits, EventDecoder>();

/** Decodes one record with a decoder kept per `limits`, as a compactor run keeps one for all its records. */
export function decodeRecord(value: Uint8Array, kafkaTimestamp: number, limits: ValidationLimits): DecodeResult {
  let decoder = decoders.get(limits);
  if (!decoder) decoders.set(limits, (decoder = new EventDecoder(limits)));
  const row = new Float64Array(EVENT_FIELDS.length);
  const rejection = decoder.decode(value, kafkaTimestamp, row);
  if (rejection) return { ok: false, reason: rejection.reason, detail: rejection.detail };
  return { ok: true, event: Object.fromEntries(EVENT_FIELDS.map((field, i) => [field.name, valueOf(decoder, i, row[i]!)])) };
}

function valueOf(decoder: EventDecoder, field: number, slot: number): string | number | null {
  if (Number.isNaN(slot)) return null;
  const dictionary = decoder.dictionaries[field];
  return dictionary ? dictionary.values[slot]! : slot;
}
