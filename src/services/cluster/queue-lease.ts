/**
 * One queue per fleet without PostgreSQL: the embedded queue runs jobs only on the replica that holds a
 * `coordination.k8s.io/v1` Lease in the bot's own namespace (the replicas share the cluster even when they share
 * no database). The others stand by — not ready, so the Service sends them no webhooks — and say why in /readyz and
 * the log; a delivery one of them accepted in a race waits in its queue until it holds the Lease.
 *
 * Leader election as client-go does it: a holder renews every `retryMs`; another replica takes the Lease over only
 * once it has seen the same record unchanged for a whole `durationSeconds` (its own clock, so no clock skew between
 * nodes matters), and every write is a compare-and-swap on the resourceVersion. A holder that cannot renew for
 * `renewDeadlineMs` stops starting jobs before anyone else may take over; on shutdown it hands the Lease back.
 */
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import { isConflict, isNotFound, kubeMessage, kubeStatus } from "./kube-errors.js";

export interface QueueLeaseOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  /** This replica: the pod name and process id. */
  identity: string;
  logger: Logger;
  /** How long a record must stay unchanged before another replica takes over (default 15 s, as client-go). */
  durationSeconds?: number;
  /** How long the holder keeps running jobs without a successful renewal (default 10 s). */
  renewDeadlineMs?: number;
  /** How often every replica tries to acquire or renew (default 2 s). */
  retryMs?: number;
  now?: () => number;
}

export class QueueLease {
  private readonly o: Required<Omit<QueueLeaseOptions, "api" | "logger" | "now">>;
  private readonly now: () => number;
  private started = false;
  private held = false;
  private lastRenewed = 0;
  private observed: { holder: string; renewTime: string; at: number } | undefined;
  private problem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly opts: QueueLeaseOptions) {
    this.o = {
      namespace: opts.namespace,
      name: opts.name,
      identity: opts.identity,
      durationSeconds: opts.durationSeconds ?? 15,
      renewDeadlineMs: opts.renewDeadlineMs ?? 10_000,
      retryMs: opts.retryMs ?? 2_000,
    };
    this.now = opts.now ?? Date.now;
  }

  /** Whether this replica may start jobs. Until the election is started (the CLI never starts it) the gate is open. */
  allows(): boolean {
    return !this.started || this.held;
  }

  /** Called whenever `allows()` may have changed (the queue starts what waited). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** For /readyz: "ok (…)" on the holder; why not, on the others. */
  status(): string {
    const where = `Lease ${this.o.namespace}/${this.o.name}`;
    if (this.held) return `ok (holds ${where}: this replica runs the jobs)`;
    if (this.problem)
      return `cannot elect: ${this.problem} (without DATABASE_URL only the holder of ${where} runs jobs)`;
    if (!this.observed) return `electing: trying to take ${where}; this replica runs no jobs until it holds it`;
    return `standby: ${this.observed?.holder || "another replica"} holds ${where}; this replica runs no jobs until it is gone`;
  }

  /** Try once now (so a lone replica is ready at once), then keep trying every `retryMs`. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.changed();
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.retryMs);
    this.timer.unref();
  }

  /** Stop renewing and hand the Lease back, so another replica takes over at its next try. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    if (!this.held) return;
    this.set(false);
    try {
      const lease = await this.opts.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: new V1MicroTime() };
      await this.opts.api.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
      this.opts.logger.info({ lease: `${this.o.namespace}/${this.o.name}` }, "handed the job Lease back");
    } catch (err) {
      this.opts.logger.warn(
        { err },
        `could not hand the job Lease back (another replica takes it over in ${this.o.durationSeconds} s)`,
      );
    }
  }

  private tick(): Promise<void> {
    this.ticking ??= this.tryAcquireOrRenew().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { api } = this.opts;
    const ref = { name: this.o.name, namespace: this.o.namespace };
    try {
      let lease: V1Lease;
      try {
        lease = await api.readNamespacedLease(ref);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await api.createNamespacedLease({
          namespace: this.o.namespace,
          body: this.record({ metadata: { name: this.o.name, namespace: this.o.namespace } }, 0),
        });
        return this.won("acquired");
      }
      this.problem = undefined;
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const renewTime = spec.renewTime ? new Date(spec.renewTime).toISOString() : "";
      if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
        if (holder !== this.o.identity && holder !== this.observed?.holder)
          this.opts.logger.info(
            { holder },
            `job Lease ${this.o.namespace}/${this.o.name} is held by ${holder || "nobody"}`,
          );
        this.observed = { holder, renewTime, at: this.now() };
      }
      const expired =
        holder === "" || this.now() - this.observed.at > (spec.leaseDurationSeconds ?? this.o.durationSeconds) * 1000;
      if (holder !== this.o.identity && !expired) return this.set(false);
      const transitions = (spec.leaseTransitions ?? 0) + (holder === this.o.identity ? 0 : 1);
      await api.replaceNamespacedLease({
        ...ref,
        body: this.record(lease, transitions, holder === this.o.identity ? spec.acquireTime : undefined),
      });
      this.won(holder === this.o.identity ? "renewed" : `took over from ${holder || "nobody"}`);
    } catch (err) {
      this.failed(err);
    }
  }

  /** The Lease as this replica holds it (keeping the resourceVersion: the write is a compare-and-swap). */
  private record(base: V1Lease, transitions: number, acquired?: Date): V1Lease {
    return {
      ...base,
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      spec: {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.o.durationSeconds,
        acquireTime: acquired ?? new V1MicroTime(),
        renewTime: new V1MicroTime(),
        leaseTransitions: transitions,
      },
    };
  }

  private won(how: string): void {
    this.problem = undefined;
    this.lastRenewed = this.now();
    if (!this.held)
      this.opts.logger.info(
        { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
        `job Lease ${how}: this replica runs the jobs`,
      );
    this.set(true);
  }

  private failed(err: unknown): void {
    if (isConflict(err)) return void (this.held || this.set(false)); // another replica wrote first: look again next time
    const code = kubeStatus(err);
    if (code === 403 || code === 404) this.problem = `${code} ${kubeMessage(err)}`.slice(0, 300);
    this.opts.logger.warn(
      { err },
      `job Lease ${this.o.namespace}/${this.o.name}: ${code ?? ""} ${kubeMessage(err)}`.trim(),
    );
    if (this.held && this.now() - this.lastRenewed > this.o.renewDeadlineMs) {
      this.opts.logger.error(
        { lease: `${this.o.namespace}/${this.o.name}` },
        "could not renew the job Lease in time: starting no more jobs",
      );
      this.set(false);
    }
  }

  private set(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    if (!held) this.opts.logger.warn({ lease: `${this.o.namespace}/${this.o.name}` }, this.status());
    this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
