import { InvalidArgumentError } from 'commander';

/** The parsers of the commands' numeric and time arguments: each refuses what it cannot take with the rule it breaks. */

export function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer.');
  return parsed;
}

export function nonNegativeInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be an integer, 0 or more.');
  return parsed;
}

export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new InvalidArgumentError('must be an integer.');
  return parsed;
}

export function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive number.');
  return parsed;
}

export function nonNegativeNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError('must be a number, 0 or more.');
  return parsed;
}

/** Epoch ms of an ISO-8601 instant that names its zone (`Z` or `±hh:mm`); undefined for anything else. */
export function zonedInstant(value: string): number | undefined {
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) || !/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? undefined : parsed;
}
