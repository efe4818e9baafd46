/** Where announcements not tied to one pull request go (backup results, sweeper reports, a job given up on). */
export interface Announcer {
  /** A message to the announcement channel. Never throws. */
  announce?(text: string): Promise<void>;
}
