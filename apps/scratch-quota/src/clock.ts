/** The time the fair-use rules run on; tests inject one they move instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const CLOCK = Symbol('scratch.clock');

export const SYSTEM_CLOCK: Clock = { now: () => new Date() };
