/**
 * The claim a schedule makes before it runs a slot, so a slot fires once however many replicas run. The interface
 * lives here, below every domain, because backups (missed-backup checks) and jobs (schedulers, redelivery) both
 * claim slots; the implementations (memory, PostgreSQL) are in jobs/schedule.ts.
 */
export interface ScheduleLock {
  /** True for exactly one caller per (name, slotIso), across every replica sharing the lock. */
  claim(name: string, slotIso: string): Promise<boolean>;
}
