/**
 * How often the bot polls while a run waits (roll-out, health checks, E2E workflow runs) and how soon a roll-out that
 * cannot progress ends: one part, read by the cluster client and the runner, that tests replace with a faster one.
 */
export interface Pace {
  /** Between two looks at a roll-out's workloads and pods. */
  pollMs: number;
  /** How long pods the controller cannot create (quota, Pod Security) may stay so before the roll-out fails. */
  rolloutFailFastMs: number;
  /** Between two health-check requests. */
  healthIntervalMs: number;
  /** Between two looks at a dispatched E2E workflow run. */
  e2ePollMs: number;
  /** Between two looks at a missing image: the first pause, doubled after each look up to imagePollMaxMs. */
  imagePollMs: number;
  imagePollMaxMs: number;
}

export const DEFAULT_PACE: Pace = {
  pollMs: 1_000,
  rolloutFailFastMs: 90_000,
  healthIntervalMs: 2_000,
  e2ePollMs: 15_000,
  imagePollMs: 2_000,
  imagePollMaxMs: 30_000,
};
