/**
 * The bot's rights inside a preview namespace, read from deploy/base/rbac.yaml (the file the operator applies): the
 * ClusterRole it binds there (preview-bot-previews) plus the one bound cluster-wide (preview-bot, which holds the
 * `create` of the bot's own RoleBinding) — one source of truth, never a copied list. The offline
 * preflight (`preview-bot render` without a cluster) judges each kind by these rules; in a deploy the cluster's own
 * answer to the dry run decides (an operator may have granted more than the file ships).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/** One RBAC PolicyRule, as far as a namespaced grant goes. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** A rule with resourceNames grants only those objects: never a kind as a whole. */
  resourceNames?: string[];
}

export interface RbacRules {
  /** Where the rules were read, for messages ("deploy/base/rbac.yaml, ClusterRole preview-bot-previews"). */
  source: string;
  rules: PolicyRule[];
}

/** The ClusterRoles whose rules hold in a preview namespace, as deploy/base/rbac.yaml names them. */
const SHIPPED_ROLES: readonly string[] = ["preview-bot", "preview-bot-previews"];

/** deploy/base/rbac.yaml of this installation (the repository, or /app in the image). */
const SHIPPED_RBAC_FILE = fileURLToPath(new URL("../../../../deploy/base/rbac.yaml", import.meta.url));

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);

/** The rules of the ClusterRoles `roles` in a multi-document YAML text; throws when one is not there. */
export function parseRbacRules(text: string, roles: readonly string[], source: string): RbacRules {
  const found = new Map<string, PolicyRule[]>();
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as Record<string, unknown> | null;
    const name = (o?.metadata as { name?: unknown } | undefined)?.name;
    if (o?.kind !== "ClusterRole" || typeof name !== "string" || !roles.includes(name)) continue;
    const rules = (Array.isArray(o.rules) ? o.rules : []).map((r: Record<string, unknown>): PolicyRule => {
      const names = strings(r.resourceNames);
      return {
        apiGroups: strings(r.apiGroups),
        resources: strings(r.resources),
        verbs: strings(r.verbs),
        ...(names.length ? { resourceNames: names } : {}),
      };
    });
    found.set(name, rules);
  }
  const missing = roles.filter((r) => !found.has(r));
  if (missing.length > 0)
    throw new Error(`reading ${source}: no ClusterRole ${missing.map((r) => `"${r}"`).join(", ")} in it`);
  return { source: `${source} (ClusterRole ${roles.join(" + ")})`, rules: roles.flatMap((r) => found.get(r)!) };
}

/** The rules as shipped (deploy/base/rbac.yaml), or from another file holding the same ClusterRoles. */
export async function readRbacRules(file = SHIPPED_RBAC_FILE, roles = SHIPPED_ROLES): Promise<RbacRules> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`reading the bot's RBAC rules from ${file}`, { cause: err });
  }
  const shown = file === SHIPPED_RBAC_FILE ? "deploy/base/rbac.yaml" : file;
  return parseRbacRules(text, roles, shown);
}

/** Whether the rules grant `verb` on every object of `group`/`resource` (RBAC's own matching, wildcards included). */
function grants(rules: RbacRules, group: string, resource: string, verb: string): boolean {
  return rules.rules.some(
    (r) =>
      !r.resourceNames &&
      (r.apiGroups.includes(group) || r.apiGroups.includes("*")) &&
      (r.resources.includes(resource) || r.resources.includes("*")) &&
      (r.verbs.includes(verb) || r.verbs.includes("*")),
  );
}

/** The verbs of `verbs` the rules do not grant on `group`/`resource`. */
export function missingVerbs(rules: RbacRules, group: string, resource: string, verbs: readonly string[]): string[] {
  return verbs.filter((v) => !grants(rules, group, resource, v));
}

/** Every group/resource the rules grant some verb on (wildcards as written), for the kinds drift test. */
export function grantedResources(rules: RbacRules): Array<{ group: string; resource: string; verbs: string[] }> {
  return rules.rules.flatMap((r) =>
    r.resourceNames
      ? []
      : r.apiGroups.flatMap((group) => r.resources.map((resource) => ({ group, resource, verbs: r.verbs }))),
  );
}
