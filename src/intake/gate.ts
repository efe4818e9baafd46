/**
 * The intake: one gate between every door and the queue. A request (request.ts) passes, in order,
 *
 *   enrolled → allowed → pinned → supersede → enqueue
 *
 * - **enrolled**: a person's request needs the repository's `.github/preview.yml` on its default branch (only "no
 *   such file" means not enrolled; a failure to read it is an error). The bot's own requests (webhooks, the sweeper)
 *   are checked when their job runs, where the config is read anyway (preview/deploy/admit.ts).
 * - **allowed**: a person needs the action's minimum role on the repository (the table's default or the repository's
 *   `permissions`), bots are refused, and on a fork PR the fork-pinned actions need a maintainer (github/authz.ts). A
 *   configured backup target needs a bot admin or the role on one of the target's `allowedRepos`.
 * - **pinned**: the reviewed-commit rule (pin.ts) for the fork-pinned actions; the bot's own webhook requests record
 *   the heads they see for it.
 * - **supersede**: whether the job drops what is queued for the preview and stops what runs (supersedes()).
 * - **enqueue**: a preview job keyed per pull request, or a backup job keyed per target, deduplicated by delivery.
 *   Actions the door answers itself (help, Slack `list`/`status`/`backups`) stop before it: the outcome says `allowed`.
 * Every door, the comment job, the sweeper and the backup schedule go through `submit`; each rule exists only here.
 */
import { ACTIONS, type ActionName, type AnsweredBy } from "../actions.js";
import type { Logger } from "../logger.js";
import { atLeast, decide, getPermission, isBotLogin } from "../services/github/authz.js";
import type { HeadLog } from "../services/github/head-log.js";
import { getPull, headArrivedAt, loadRepoConfig, type Octokit, type PullFacts } from "../services/github/reads.js";
import type { EnqueueOptions } from "../services/jobs/queue.js";
import { BACKUP_JOB, PREVIEW_JOB, type BackupJob, type PreviewJob } from "../services/shared/dispatch.js";
import { previewKey } from "../services/shared/preview.js";
import { reviewedCommit } from "./pin.js";
import { isPerson, triggerOf, type PullSubject, type Request } from "./request.js";

export type Outcome =
  | { type: "queued"; jobId: string; deduplicated: boolean; sha?: string; fork?: boolean }
  /** Allowed, and the door answers (reads, help). */
  | { type: "allowed" }
  /** `confirm`: the commit to offer for confirmation (a Slack deploy of a fork PR). */
  | { type: "refused"; reason: string; confirm?: string };

/** How the gate reaches GitHub: the App's installation clients. */
export interface GateGitHub {
  octokitFor(installationId: number): Promise<Octokit>;
  installationOf(owner: string, repo: string): Promise<number>;
}

/** The configured backup targets the gate admits requests for (names, and who may use each). */
export interface TargetRules {
  names(): string[];
  /** `owner/repo` of the repositories allowed to use the target's data; none: bot admins only. */
  allowedRepos(name: string): readonly string[] | undefined;
}

export interface IntakeOptions {
  enqueue(options: EnqueueOptions<PreviewJob | BackupJob>): Promise<{ jobId: string; deduplicated: boolean }>;
  github: GateGitHub;
  heads: HeadLog;
  targets?: TargetRules;
  /** GitHub logins that may use every backup target. */
  admins?: readonly string[];
  logger: Logger;
}

export interface Intake {
  submit(request: Request): Promise<Outcome>;
  /** Of these previews, the ones `login` may read (its role on each repository). */
  readable<T extends { owner: string; repo: string }>(login: string, items: readonly T[]): Promise<T[]>;
}

/** The pull_request actions that set a PR's head (recorded for the reviewed-commit rule). */
const HEAD_EVENTS = new Set(["opened", "reopened", "synchronize"]);

/**
 * Whether a job drops what is queued for its preview and stops what runs: the table says which actions may, and
 * never a dry run, a sweeper's repair deploy (it queues behind), or a label or check event (a label someone adds must
 * not cancel a deploy in progress).
 */
export function supersedes(req: Request): boolean {
  if (!ACTIONS[req.action].supersedes || req.args.dryRun) return false;
  if (req.door === "sweeper") return req.action === "destroy";
  if (req.door === "webhook") return req.event?.label === undefined && req.event?.checkName === undefined;
  return true;
}

/** Who answers this action at this door: a job, or the door itself. */
export function answeredBy(action: ActionName, door: Request["door"]): AnsweredBy {
  const spec = ACTIONS[action] as { comment?: AnsweredBy; slack?: { by: AnsweredBy } };
  if (door === "comment") return spec.comment ?? "door";
  if (door === "slack") return spec.slack?.by ?? "door";
  return "job";
}

export function createIntake(opts: IntakeOptions): Intake {
  const log = opts.logger.child({ component: "intake" });
  const refused = (reason: string, confirm?: string): Outcome => ({
    type: "refused",
    reason,
    ...(confirm ? { confirm } : {}),
  });

  async function submit(req: Request): Promise<Outcome> {
    if (req.subject.kind === "target") return target(req, req.subject.name);
    if (req.subject.kind === "fleet") return { type: "allowed" };
    return pull(req, req.subject);
  }

  async function pull(req: Request, subject: PullSubject): Promise<Outcome> {
    // A visitor at the wake door is nobody we know: it may wake a sleeping preview, nothing else.
    if (req.door === "visitor" && req.action !== "wake") return refused("a visitor can only wake a preview");
    const key = previewKey(subject);
    const installationId = subject.installationId ?? (await opts.github.installationOf(subject.owner, subject.repo));
    const spec = ACTIONS[req.action];
    let pin: { sha?: string } = {};
    let facts: PullFacts | undefined;
    if (isPerson(req.door)) {
      const octokit = await opts.github.octokitFor(installationId);
      // enrolled
      const config = await loadRepoConfig(octokit, subject.owner, subject.repo);
      if (!config) {
        log.debug({ key }, "repository not enrolled");
        return refused(
          `${subject.owner}/${subject.repo} is not enrolled: add \`.github/preview.yml\` to its default branch (see preview-bot's README).`,
        );
      }
      // allowed
      facts = spec.forkPinned ? await getPull(octokit, subject.owner, subject.repo, subject.number) : undefined;
      const permission = isBotLogin(req.actor)
        ? "none"
        : await getPermission(octokit, subject.owner, subject.repo, req.actor);
      const decision = decide({
        permission,
        action: req.action,
        isBot: isBotLogin(req.actor),
        isForkPr: facts?.fork ?? false,
        actorIsPrAuthor: facts !== undefined && facts.author === req.actor,
        ...(config.ok ? { policy: config.config.permissions } : {}),
      });
      if (!decision.allowed) {
        log.info({ key }, `refused /preview ${req.action} for @${req.actor}`);
        return refused(decision.reason);
      }
      // pinned
      if (spec.forkPinned && facts) {
        const named = req.args.sha;
        const needsRecords = facts.fork && named === undefined && req.door === "comment";
        const p = reviewedCommit({
          action: req.action,
          door: req.door,
          ...(named !== undefined ? { named } : {}),
          pull: facts,
          ...(req.commentedAt ? { commentedAt: req.commentedAt } : {}),
          sightings: needsRecords ? await opts.heads.sightings(key) : [],
          ...(needsRecords ? await arrived(octokit, subject, facts.sha) : {}),
        });
        if ("refuse" in p) {
          log.info({ key, head: facts.sha }, `refused /preview ${req.action} by @${req.actor}: ${p.refuse}`);
          return refused(p.refuse, p.confirm);
        }
        pin = p;
      }
    } else if (req.door === "webhook" && req.event?.head?.fork) {
      // What a maintainer's later comment is checked against (pin.ts): every head the fork PR had, with GitHub's time.
      const { head, action } = req.event;
      if (action && HEAD_EVENTS.has(action)) await opts.heads.record(key, head.sha, head.at);
      // A fork PR deploys on a maintainer's command only; of its events only the opening goes on (the runner then
      // tells the PR how a maintainer can deploy it).
      if (action !== "opened")
        return refused("pull request from a fork: it deploys only on a maintainer's /preview deploy");
    }
    if (answeredBy(req.action, req.door) === "door") return { type: "allowed" };
    const job = previewJob(req, subject, installationId, pin.sha);
    const { jobId, deduplicated } = await opts.enqueue({
      kind: PREVIEW_JOB,
      key,
      payload: job,
      supersedes: supersedes(req),
      ...(req.deliveryId ? { dedupeId: req.deliveryId } : {}),
    });
    return {
      type: "queued",
      jobId,
      deduplicated,
      ...(pin.sha ? { sha: pin.sha } : {}),
      ...(facts?.fork ? { fork: true } : {}),
    };
  }

  async function arrived(octokit: Octokit, s: PullSubject, sha: string): Promise<{ headArrivedAt?: string }> {
    const at = await headArrivedAt(octokit, s.owner, s.repo, sha);
    return at ? { headArrivedAt: at } : {};
  }

  async function target(req: Request, name: string): Promise<Outcome> {
    const known = opts.targets?.names() ?? [];
    if (!known.includes(name)) {
      return refused(
        `\`${name}\` is not a backup target here${known.length ? `; known: ${known.map((n) => `\`${n}\``).join(", ")}` : " (no backup targets are configured)"}.`,
      );
    }
    if (isPerson(req.door)) {
      const why = await targetRefusal(req.actor, name, req.action);
      if (why) return refused(why);
    }
    if (answeredBy(req.action, req.door) === "door") return { type: "allowed" };
    const job: BackupJob = { target: name, trigger: triggerOf(req), ...(req.slack ? { slack: req.slack } : {}) };
    const queued = await opts.enqueue({
      kind: BACKUP_JOB,
      key: `backup ${name}`,
      payload: job,
      ...(req.deliveryId ? { dedupeId: req.deliveryId } : {}),
    });
    return { type: "queued", ...queued };
  }

  /** A bot admin, or someone with the action's role on one of the target's allowed repositories; else why not. */
  async function targetRefusal(login: string, name: string, action: ActionName): Promise<string | undefined> {
    if (isBotLogin(login)) return "Sorry, preview-bot does not take commands from bots.";
    if (opts.admins?.includes(login)) return undefined;
    const repos = opts.targets?.allowedRepos(name) ?? [];
    const verb = action === "backup" ? "back it up" : "list its backups";
    if (repos.length === 0)
      return `Sorry, \`${name}\` names no allowed repositories, so only preview-bot admins can ${verb}.`;
    for (const full of repos) {
      const [owner, repo] = full.split("/");
      if (!owner || !repo) continue;
      try {
        if (atLeast(await roleOn(login, owner, repo), ACTIONS[action].permission)) return undefined;
      } catch (err) {
        log.warn({ err, login, repository: full }, "permission check for a backup target failed");
      }
    }
    return `Sorry, to ${verb} \`${name}\` you need \`${ACTIONS[action].permission}\` access to one of the repositories allowed to use it (${repos.join(", ")}), or to be a preview-bot admin.`;
  }

  async function roleOn(login: string, owner: string, repo: string) {
    const octokit = await opts.github.octokitFor(await opts.github.installationOf(owner, repo));
    return getPermission(octokit, owner, repo, login);
  }

  async function readable<T extends { owner: string; repo: string }>(login: string, items: readonly T[]): Promise<T[]> {
    if (isBotLogin(login)) return [];
    const roles = new Map<string, Promise<boolean>>();
    const may = (owner: string, repo: string) => {
      const full = `${owner}/${repo}`.toLowerCase();
      let p = roles.get(full);
      if (!p) {
        p = roleOn(login, owner, repo).then(
          (role) => atLeast(role, ACTIONS.list.permission),
          (err: unknown) => {
            log.warn({ err, login, repository: full }, "permission check for a listing failed: hidden");
            return false;
          },
        );
        roles.set(full, p);
      }
      return p;
    };
    const keep = await Promise.all(items.map((i) => may(i.owner, i.repo)));
    return items.filter((_, i) => keep[i]);
  }

  return { submit, readable };
}

function previewJob(req: Request, s: PullSubject, installationId: number, sha: string | undefined): PreviewJob {
  const action = req.action as PreviewJob["action"];
  return {
    installationId,
    owner: s.owner,
    repo: s.repo,
    number: s.number,
    action,
    source: req.door === "schedule" ? "sweeper" : req.door,
    trigger: triggerOf(req),
    ...(isPerson(req.door) ? { actor: req.actor } : {}),
    ...(req.deliveryId ? { deliveryId: req.deliveryId } : {}),
    ...(req.args.dryRun ? { dryRun: true } : {}),
    ...(req.args.ttlMs ? { ttlMs: req.args.ttlMs } : {}),
    ...(req.args.target ? { backup: req.args.target } : {}),
    ...(req.event?.action ? { event: req.event.action } : {}),
    ...(req.event?.label !== undefined ? { labeled: req.event.label } : {}),
    ...(req.event?.checkName !== undefined ? { checkName: req.event.checkName } : {}),
    ...(req.keepDatabases ? { keepDatabases: req.keepDatabases } : {}),
    ...(sha ? { sha } : {}),
    ...(req.slack ? { slack: req.slack } : {}),
  };
}
