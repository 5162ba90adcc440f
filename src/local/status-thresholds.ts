import { DEFAULTS } from '../../lib/config.ts';

/** When a table needs attention; the CLI's flags, defaulted from lib/config.ts. */
export interface StatusThresholds {
  /** A claim older than this is a stuck compactor. @default 2 × DEFAULTS.compactorEveryMinutes */
  readonly stuckAfterMinutes: number;
  /** A lake whose newest event is older than this is stale. @default 3 × DEFAULTS.compactorEveryMinutes */
  readonly staleAfterMinutes: number;
  /** A total lag above this is more than one run may read: the compactor falls behind. @default DEFAULTS.maxRecordsPerRun */
  readonly maxLag: number;
}

export const STATUS_DEFAULTS: StatusThresholds = {
  stuckAfterMinutes: 2 * DEFAULTS.compactorEveryMinutes,
  staleAfterMinutes: 3 * DEFAULTS.compactorEveryMinutes,
  maxLag: DEFAULTS.maxRecordsPerRun,
};
