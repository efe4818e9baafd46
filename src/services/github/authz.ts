/**
 * Who may do what. The permission comes from GitHub (collaborator permission of the actor on the repository);
 * the rule is pure (`decide`) so it is table-tested.
 *
 * Rules:
 * - Each action needs a minimum repository role (defaults in DEFAULT_POLICY; configurable per action).
 * - Bots are always refused: a bot's comment must never trigger work (loops, and a bot can be driven by anyone).
 * - On a fork PR, `deploy` and `redeploy` need at least `maintain`, whatever the policy says: the fork's code runs
 *   in our cluster with a database, so a maintainer's explicit command is what lets a fork deploy. This holds for
 *   the fork's author too (unless they are themselves a maintainer).
 */
export type Role = "none" | "read" | "triage" | "write" | "maintain" | "admin";
export type AuthzAction =
  "deploy" | "redeploy" | "destroy" | "status" | "extend" | "backup" | "restore" | "help" | "list" | "backups";
export type Policy = Record<AuthzAction, Role>;
export type Decision = { allowed: true } | { allowed: false; reason: string };

const RANK: Record<Role, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };

export const DEFAULT_POLICY: Readonly<Policy> = {
  deploy: "write",
  redeploy: "write",
  extend: "write",
  backup: "write",
  restore: "write",
  destroy: "maintain",
  status: "read",
  help: "read",
  list: "read",
  backups: "read",
};

/** Actions that run the PR's code, hence need a maintainer on a fork PR. */
const FORK_GATED: ReadonlySet<AuthzAction> = new Set(["deploy", "redeploy"]);

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && Object.hasOwn(RANK, value);
}

export function atLeast(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** `login[bot]` (GitHub Apps) — callers should also pass `isBot` from the user's `type === "Bot"`. */
export function isBotLogin(login: string): boolean {
  return /\[bot\]$/i.test(login);
}

export interface DecideInput {
  permission: Role;
  action: AuthzAction;
  policy?: Partial<Policy>;
  isBot?: boolean;
  isForkPr?: boolean;
  actorIsPrAuthor?: boolean;
}

export function decide(input: DecideInput): Decision {
  const { permission, action } = input;
  if (input.isBot) return { allowed: false, reason: "Sorry, preview-bot does not take commands from bots." };
  let need = input.policy?.[action] ?? DEFAULT_POLICY[action];
  let forkRule = false;
  if (input.isForkPr && FORK_GATED.has(action) && !atLeast(need, "maintain")) {
    need = "maintain";
    forkRule = true;
  }
  if (atLeast(permission, need)) return { allowed: true };
  if (forkRule) {
    const who = input.actorIsPrAuthor ? "This pull request comes from a fork, so" : "On a fork pull request";
    return {
      allowed: false,
      reason: `Sorry, ${who} \`${action}\` needs a maintainer (maintain or admin) to ask for it.`,
    };
  }
  return {
    allowed: false,
    reason: `Sorry, \`${action}\` needs ${need} access to this repository (you have ${permission}).`,
  };
}

type PermissionRoute = "GET /repos/{owner}/{repo}/collaborators/{username}/permission";

/** The one Octokit call this module makes; a Probot/`@octokit/core` instance satisfies it. */
export interface PermissionClient {
  request(
    route: PermissionRoute,
    params: { owner: string; repo: string; username: string },
  ): Promise<{ data: { permission?: string | null; role_name?: string | null } }>;
}

/**
 * The actor's role on the repository: `role_name` when it is a built-in role, else the legacy `permission`
 * (which folds maintain into write and triage into read); 404 (not a collaborator, or no such user) → "none".
 */
export async function getPermission(
  client: PermissionClient,
  owner: string,
  repo: string,
  username: string,
): Promise<Role> {
  try {
    const { data } = await client.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
      owner,
      repo,
      username,
    });
    if (isRole(data.role_name)) return data.role_name;
    if (isRole(data.permission)) return data.permission;
    return "none";
  } catch (err) {
    if (statusOf(err) === 404) return "none";
    throw new Error(
      `checking ${username}'s permission on ${owner}/${repo}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

/** Slack and other doors ask this: may GitHub user `login` do `action` on owner/repo (PR `number` when known)? */
export type Authorizer = (
  login: string,
  owner: string,
  repo: string,
  action: AuthzAction,
  number?: number,
) => Promise<Decision>;

/** A repository's rules as its `.github/preview.yml` (default branch) says: not enrolled, or its `permissions`. */
export type RepoPolicy = { enrolled: false } | { enrolled: true; policy?: Partial<Policy> };

export interface AuthorizerOptions {
  /** An Octokit authenticated for the repository (e.g. the app's installation client). */
  clientFor(owner: string, repo: string): Promise<PermissionClient>;
  /** The same policy for every repository (a door that has read the config already). */
  policy?: Partial<Policy>;
  /** Each repository's own policy (Slack: the repository is only known from the command). */
  policyFor?(owner: string, repo: string): Promise<RepoPolicy>;
  /** Whether the PR comes from a fork; without it (or without a PR number) the fork rule is applied as for a fork. */
  isForkPr?(owner: string, repo: string, number: number): Promise<boolean>;
}

export function createAuthorizer(opts: AuthorizerOptions): Authorizer {
  return async (login, owner, repo, action, number) => {
    if (isBotLogin(login)) return decide({ permission: "none", action, isBot: true });
    let policy = opts.policy;
    if (opts.policyFor) {
      const rules = await opts.policyFor(owner, repo);
      if (!rules.enrolled)
        return {
          allowed: false,
          reason: `Sorry, ${owner}/${repo} is not enrolled in preview-bot (it has no \`.github/preview.yml\` on its default branch).`,
        };
      policy = rules.policy;
    }
    const permission = await getPermission(await opts.clientFor(owner, repo), owner, repo, login);
    const isForkPr = FORK_GATED.has(action)
      ? number !== undefined && opts.isForkPr
        ? await opts.isForkPr(owner, repo, number)
        : true
      : false;
    return decide({ permission, action, isForkPr, ...(policy ? { policy } : {}) });
  };
}
