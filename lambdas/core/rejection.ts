/** Why a record went to quarantine instead of the lake. */
export const QUARANTINE_REASONS = [
  'too_large',
  'not_utf8',
  'not_json',
  'not_object',
  'missing_field',
  'wrong_type',
  'invalid_value',
  'timestamp_out_of_range',
] as const;
export type QuarantineReason = (typeof QUARANTINE_REASONS)[number];

/** Why a record cannot enter the lake: the reason, and a detail that names the field's path. */
export class Rejection {
  readonly reason: QuarantineReason;
  readonly detail: string;

  constructor(reason: QuarantineReason, detail: string) {
    this.reason = reason;
    this.detail = detail;
  }
}
