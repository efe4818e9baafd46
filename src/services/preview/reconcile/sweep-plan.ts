/**
 * The sweep's plan, pure: desired (open pull requests of enrolled repositories) vs actual (namespaces labelled ours,
 * databases carrying our mark, and roles carrying our mark that own no database — a provision or a drop cut short)
 * → what to deploy, remove, warn about or leave alone, and why. No I/O, no clock.
 * A leftover role follows its preview's rules, like a database: removed only with a closed or unknown PR that no job
 * is working on (never a live preview's: its next provision adopts it), kept and said so when not enrolled.
 */
import {
  STATE_ANNOTATION,
  EXPIRES_ANNOTATION,
  isProtectedNamespace,
  MANAGED_BY,
  PR_LABEL,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
} from "../../shared/labels.js";
import { previewKey } from "../../shared/preview.js";
import { readSleep } from "../../shared/sleep.js";
import { needsRepair, readPreviewState } from "../../shared/state.js";
import type { OpenPull } from "../../github/open-pulls.js";

export interface NamespaceFacts {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: string;
}

export interface SweepInput {
  open: OpenPull[];
  namespaces: NamespaceFacts[];
  databases: Array<{ database: string; key: string }>;
  /** Roles carrying our mark that own no database (Databases.strayRoles), with the preview key from the mark. */
  roles?: Array<{ role: string; key: string }>;
  now: number;
  /** `key@sha` of previews the sweeper expired: not redeployed until the PR moves on (push, /preview deploy). */
  expired?: ReadonlySet<string>;
  /** Lower-case `owner/repo` of the enrolled repositories; absent: every repository counts as enrolled. */
  enrolled?: ReadonlySet<string>;
  /** Why a repository is not enrolled ("is archived", …), by lower-case `owner/repo`. */
  held?: ReadonlyMap<string, string>;
  /** Keys with a job queued or running: left to that job (a first deploy still fetching is not "missing"). */
  busy?: ReadonlySet<string>;
  protectedNamespaces?: readonly string[];
  /** How long before expiry to warn (default: 10 % of the TTL when known, else 24 h, never more than 24 h). */
  headsUpMs?: (ttlMs: number | undefined) => number;
}

export interface DeployItem {
  key: string;
  owner: string;
  repo: string;
  number: number;
  installationId: number;
  sha: string;
  reason: "missing" | "stale" | "failed";
}
export interface DestroyItem {
  key: string;
  owner: string;
  repo: string;
  number: number;
  installationId?: number;
  namespaces: string[];
  databases: string[];
  /** Leftover roles of the preview (marked ours, owning no database): its teardown drops them. */
  roles: string[];
  reason: "closed" | "expired" | "not enrolled";
  sha?: string;
  /** Set when the databases stay (the repository is archived or not enrolled): why. */
  keepDatabases?: string;
}
export interface HeadsUpItem {
  key: string;
  owner: string;
  repo: string;
  number: number;
  installationId: number;
  namespace: string;
  expiresAt: string;
  slackChannel?: string;
}
/** A preview idle for longer than its `sleep.after`: put to sleep (not counted as activity). */
export interface SleepItem {
  key: string;
  owner: string;
  repo: string;
  number: number;
  installationId: number;
  namespaces: string[];
  /** Its last activity (ISO-8601). */
  idleSince: string;
}
export interface SkipItem {
  what: string;
  reason: string;
}

export interface SweepPlan {
  deploy: DeployItem[];
  destroy: DestroyItem[];
  headsUp: HeadsUpItem[];
  sleep: SleepItem[];
  skipped: SkipItem[];
}

const DAY = 86_400_000;
const defaultHeadsUp = (ttlMs: number | undefined) => Math.min(DAY, ttlMs ? ttlMs / 10 : DAY);

function parseKey(key: string): { owner: string; repo: string; number: number } | undefined {
  const m = /^([^/#\s]+)\/([^/#\s]+)#(\d+)$/.exec(key);
  return m ? { owner: m[1]!, repo: m[2]!, number: Number(m[3]) } : undefined;
}

interface Actual {
  namespaces: NamespaceFacts[];
  databases: string[];
  roles: string[];
}

/** Desired vs actual → what to do. Pure: no I/O, no clock (give `now`). */
export function planSweep(input: SweepInput): SweepPlan {
  const plan: SweepPlan = { deploy: [], destroy: [], headsUp: [], sleep: [], skipped: [] };
  const open = new Map(input.open.map((p) => [previewKey(p), p]));
  const byKey = groupActual(input, plan);
  for (const [key, actual] of byKey) {
    if (input.busy?.has(key)) plan.skipped.push({ what: key, reason: "a job for it is queued or running" });
    else judgeActual(key, actual, open.get(key), input, plan);
  }
  for (const [key, pull] of open) {
    if (input.busy?.has(key)) {
      if (!byKey.has(key)) plan.skipped.push({ what: key, reason: "a job for it is queued or running" });
      continue;
    }
    if (!plan.destroy.some((d) => d.key === key)) judgeOpen(key, pull, byKey.get(key)?.namespaces ?? [], input, plan);
  }
  return plan;
}

/**
 * The actual set by preview key: our namespaces (protected ones and unreadable labels skipped) and marked databases.
 */
function groupActual(input: SweepInput, plan: SweepPlan): Map<string, Actual> {
  const byKey = new Map<string, Actual>();
  const slot = (key: string) =>
    byKey.get(key) ?? byKey.set(key, { namespaces: [], databases: [], roles: [] }).get(key)!;
  for (const ns of input.namespaces) {
    if (ns.labels[MANAGED_BY_KEY] !== MANAGED_BY_VALUE) continue; // never ours to judge
    if (isProtectedNamespace(ns.name, input.protectedNamespaces)) {
      plan.skipped.push({ what: `namespace ${ns.name}`, reason: "protected" });
      continue;
    }
    const repository = ns.annotations[REPOSITORY_ANNOTATION];
    const pr = ns.labels[PR_LABEL];
    const key = repository && pr && /^\d+$/.test(pr) ? `${repository}#${pr}` : undefined;
    if (!key || !parseKey(key)) {
      plan.skipped.push({
        what: `namespace ${ns.name}`,
        reason: "labelled ours but without a repository annotation and PR label: left for a person",
      });
      continue;
    }
    slot(key).namespaces.push(ns);
  }
  for (const db of input.databases) {
    if (!parseKey(db.key)) {
      plan.skipped.push({
        what: `database ${db.database}`,
        reason: `marked ours with an unreadable key ${JSON.stringify(db.key)}`,
      });
      continue;
    }
    slot(db.key).databases.push(db.database);
  }
  for (const r of input.roles ?? []) {
    if (!parseKey(r.key)) {
      plan.skipped.push({
        what: `role ${r.role}`,
        reason: `marked ours with an unreadable key ${JSON.stringify(r.key)}`,
      });
      continue;
    }
    slot(r.key).roles.push(r.role);
  }
  return byKey;
}

/**
 * A preview that exists: removed when its PR is gone or it expired (databases kept for held repositories), warned
 * before expiry.
 */
function judgeActual(
  key: string,
  actual: Actual,
  pull: OpenPull | undefined,
  input: SweepInput,
  plan: SweepPlan,
): void {
  const id = parseKey(key)!;
  const live = actual.namespaces.filter((n) => n.phase !== "Terminating");
  if (!pull) {
    if (live.length === 0 && actual.databases.length === 0 && actual.roles.length === 0) return; // already going away
    const repository = `${id.owner}/${id.repo}`.toLowerCase();
    if (input.enrolled && !input.enrolled.has(repository)) {
      // An archived or no longer enrolled repository is not a closed PR: remove what runs, keep the data, say so.
      const why = `${id.owner}/${id.repo} ${input.held?.get(repository) ?? "is not an enrolled repository the app can see"}`;
      for (const what of [...actual.databases.map((d) => `database ${d}`), ...actual.roles.map((r) => `role ${r}`)])
        plan.skipped.push({ what, reason: `kept: ${why}; drop it by hand, or enroll the repository again` });
      if (live.length)
        plan.destroy.push({
          key,
          ...id,
          namespaces: live.map((n) => n.name),
          databases: [],
          roles: [],
          reason: "not enrolled",
          keepDatabases: `${why}, so the sweeper keeps its data`,
        });
      return;
    }
    plan.destroy.push({
      key,
      ...id,
      namespaces: live.map((n) => n.name),
      databases: actual.databases,
      roles: actual.roles,
      reason: "closed",
    });
    return;
  }
  const expiries = live
    .map((n) => Date.parse(n.annotations[EXPIRES_ANNOTATION] ?? ""))
    .filter((t) => Number.isFinite(t));
  const expiresAt = expiries.length ? Math.min(...expiries) : undefined;
  if (expiresAt !== undefined && expiresAt <= input.now) {
    plan.destroy.push({
      key,
      ...id,
      installationId: pull.installationId,
      namespaces: live.map((n) => n.name),
      databases: actual.databases,
      roles: actual.roles,
      reason: "expired",
      sha: pull.sha,
    });
    return;
  }
  const idle = live.filter((n) => {
    const f = readSleep(n.annotations);
    const ready = readPreviewState(n.annotations[STATE_ANNOTATION]) === "ready";
    return (
      ready && f.asleepSince === undefined && f.afterMs !== undefined && (f.lastActivity ?? 0) + f.afterMs <= input.now
    );
  });
  if (idle.length > 0)
    plan.sleep.push({
      key,
      ...id,
      installationId: pull.installationId,
      namespaces: idle.map((n) => n.name),
      idleSince: new Date(Math.min(...idle.map((n) => readSleep(n.annotations).lastActivity ?? 0))).toISOString(),
    });
  if (expiresAt !== undefined && expiresAt - input.now <= (input.headsUpMs ?? defaultHeadsUp)(pull.ttlMs)) {
    const ns = live.find((n) => Date.parse(n.annotations[EXPIRES_ANNOTATION] ?? "") === expiresAt)!;
    plan.headsUp.push({
      key,
      ...id,
      installationId: pull.installationId,
      namespace: ns.name,
      expiresAt: new Date(expiresAt).toISOString(),
      ...(pull.slackChannel ? { slackChannel: pull.slackChannel } : {}),
    });
  }
}

/** An open PR: deployed when its preview is missing, at an older commit, or failed. */
function judgeOpen(
  key: string,
  pull: OpenPull,
  namespaces: NamespaceFacts[],
  input: SweepInput,
  plan: SweepPlan,
): void {
  const deploy = (reason: DeployItem["reason"]) =>
    plan.deploy.push({
      key,
      owner: pull.owner,
      repo: pull.repo,
      number: pull.number,
      installationId: pull.installationId,
      sha: pull.sha,
      reason,
    });
  if (namespaces.some((n) => n.phase === "Terminating")) {
    plan.skipped.push({ what: key, reason: "its namespace is terminating; the next sweep looks again" });
    return;
  }
  if (namespaces.length === 0) {
    if (input.expired?.has(`${key}@${pull.sha}`))
      plan.skipped.push({
        what: key,
        reason: `expired at ${pull.sha.slice(0, 7)}; a push or /preview deploy brings it back`,
      });
    else deploy("missing");
    return;
  }
  if (namespaces.some((n) => n.annotations[SHA_ANNOTATION] !== pull.sha)) deploy("stale");
  else if (namespaces.some((n) => needsRepair(readPreviewState(n.annotations[STATE_ANNOTATION])))) deploy("failed");
}

const MANAGED_BY_KEY = Object.keys(MANAGED_BY)[0]!;
const MANAGED_BY_VALUE = MANAGED_BY[MANAGED_BY_KEY]!;
