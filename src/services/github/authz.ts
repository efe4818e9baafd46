/**
 * Who may do what. The permission comes from GitHub (collaborator permission of the actor on the repository);
 * the rule is pure (`decide`) so it is table-tested.
 *
 * Rules:
 * - Each action needs a minimum repository role (the table's default, src/actions.ts; a repository's `permissions` may
 *   change the configurable ones).
 * - Bots are always refused: a bot's comment must never trigger work (loops, and a bot can be driven by anyone).
 * - On a fork PR, the fork-pinned actions (`deploy`, `redeploy`) need at least `maintain`, whatever the policy says:
 *   the fork's code runs
 *   in our cluster with a database, so a maintainer's explicit command is what lets a fork deploy. This holds for
 *   the fork's author too (unless they are themselves a maintainer).
 */
import { describeError } from "../shared/format.js";
import { ACTIONS, DEFAULT_PERMISSIONS, type ActionName, type Role } from "../../actions.js";

export type { Role };
export type Policy = Record<ActionName, Role>;
export type Decision = { allowed: true } | { allowed: false; reason: string };

const RANK: Record<Role, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };

/** The default minimum role of each action (the table's `permission`). */
export const DEFAULT_POLICY: Readonly<Policy> = DEFAULT_PERMISSIONS;

function isRole(value: unknown): value is Role {
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
  action: ActionName;
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
  if (input.isForkPr && ACTIONS[action].forkPinned && !atLeast(need, "maintain")) {
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
    throw new Error(`checking ${username}'s permission on ${owner}/${repo}: ${describeError(err)}`, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}
