import { decodeEvent, type QuarantineReason, type ValidationLimits } from '../../lambdas/core/decode.ts';
import type { Row } from '../../lambdas/core/column-batch.ts';
import { EVENT_FIELDS } from '../../lambdas/core/schema.ts';

/** `decodeEvent`'s verdict as one value, with the event as an object by field name, for assertions. */
export type DecodeResult =
  | { readonly ok: true; readonly event: Record<string, string | number | null> }
  | { readonly ok: false; readonly reason: QuarantineReason; readonly detail: string };

export function decodeRecord(value: Uint8Array, kafkaTimestamp: number, limits: ValidationLimits): DecodeResult {
  const row: Row = [];
  const rejection = decodeEvent(value, kafkaTimestamp, limits, row);
  if (rejection) return { ok: false, reason: rejection.reason, detail: rejection.detail };
  return { ok: true, event: Object.fromEntries(EVENT_FIELDS.map((field, i) => [field.name, row[i] ?? null])) };
}
