/** The time source: real time in Lambda, simulated time in the local runner and tests. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}
