/**
 * A pull request's objects, held inside the guardrails (namespace-guardrails.ts) before anything is applied:
 * - refused: a Namespace object (the preview namespace and its labels are the bot's), and any object that would
 *   take over a guardrail (a ResourceQuota, LimitRange or NetworkPolicy named like the bot's, a RoleBinding named
 *   like the bot's own);
 * - rewritten: NetworkPolicies are additive, so a PR policy allowing ingress from everywhere would undo the
 *   guardrail's default deny. Each ingress and egress rule is narrowed to the guardrail's peers: a rule with no
 *   peers (every source or destination) gets the guardrail's; a peer in another namespace keeps only its
 *   in-namespace part; an address range outside the allowed ones is dropped. With open egress every destination is
 *   allowed but the cloud metadata endpoints (egress.ts): an egress address range that covers one gets it excepted,
 *   and one that is one is dropped, whatever the mode.
 * A peer counts as inside only when it provably is: a namespaceSelector must pin `kubernetes.io/metadata.name`
 * (set by the API server, so a PR cannot forge it) to allowed namespaces. Rewrites and refusals are returned one
 * line each, for the check run.
 */
import type { KubeObject } from "../../shared/preview.js";
import { cidrWithin } from "./cidr.js";
import { isMetadataEndpoint, metadataInside } from "./egress.js";
import {
  egressPeers,
  GUARDRAIL_NAME,
  ingressPeers,
  PRIORITY_QUOTA_NAME,
  ROLE_BINDING_NAME,
  type GuardrailSettings,
} from "./namespace-guardrails.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const METADATA_NAME = "kubernetes.io/metadata.name";
const GUARDED_KINDS = new Set(["ResourceQuota", "LimitRange", "NetworkPolicy"]);

export { cidrWithin } from "./cidr.js";

export interface Confined {
  objects: KubeObject[];
  rewrites: string[];
  problems: string[];
}

/** Hold `objects` (the render, for namespace `namespace`) inside the guardrails; the input is not modified. */
export function confineObjects(
  objects: readonly KubeObject[],
  settings: GuardrailSettings,
  namespace: string,
): Confined {
  const rewrites: string[] = [];
  const problems: string[] = [];
  const out: KubeObject[] = [];
  for (const original of objects) {
    const what = `${original.kind} "${original.metadata.name ?? "?"}"`;
    if (original.kind === "Namespace") {
      problems.push(
        `${what}: the preview namespace belongs to preview-bot; set its labels with namespace.labels in .github/preview.yml`,
      );
      continue;
    }
    if (
      (GUARDED_KINDS.has(original.kind) && original.metadata.name === GUARDRAIL_NAME) ||
      (original.kind === "ResourceQuota" && original.metadata.name === PRIORITY_QUOTA_NAME) ||
      (original.kind === "RoleBinding" && original.metadata.name === ROLE_BINDING_NAME)
    ) {
      problems.push(`${what}: the name is preview-bot's own guardrail in every preview namespace; rename the object`);
      continue;
    }
    const obj = structuredClone(original);
    if (obj.kind === "NetworkPolicy" && obj.apiVersion.startsWith("networking.k8s.io/"))
      rewrites.push(...narrowPolicy(obj, settings, namespace));
    out.push(obj);
  }
  return { objects: out, rewrites, problems };
}

function narrowPolicy(policy: KubeObject, settings: GuardrailSettings, namespace: string): string[] {
  const spec = asRec(policy.spec);
  if (!spec) return [];
  const lines: string[] = [];
  const name = `NetworkPolicy "${policy.metadata.name ?? "?"}"`;
  const directions = [
    {
      field: "ingress",
      peers: "from",
      fence: ingressPeers(settings),
      namespaces: new Set([namespace, ...settings.ingressFromNamespaces]),
      cidrs: settings.ingressFromCidrs,
    },
    {
      field: "egress",
      peers: "to",
      fence: egressPeers(settings),
      namespaces: settings.egress === "restricted" ? new Set([namespace]) : ANY_NAMESPACE,
      cidrs: settings.egress === "restricted" ? settings.egressToCidrs : ["0.0.0.0/0", "::/0"],
    },
  ] as const;
  for (const d of directions) {
    const rules = spec[d.field];
    if (!Array.isArray(rules)) continue;
    const kept: unknown[] = [];
    rules.forEach((raw, i) => {
      const rule = asRec(raw) ?? {};
      const where = `${name}: ${d.field} rule ${i + 1}`;
      const peers = rule[d.peers];
      if (!Array.isArray(peers) || peers.length === 0) {
        lines.push(
          `${where} allowed ${d.field === "ingress" ? "every source" : "every destination"}: narrowed to the guardrail's (${fenceText(d.fence)})`,
        );
        kept.push({ ...rule, [d.peers]: structuredClone(d.fence) });
        return;
      }
      const narrowed = peers
        .flatMap((p) => narrowPeer(asRec(p) ?? {}, d.namespaces, d.cidrs))
        .flatMap((n) => (d.field === "egress" && n.peer ? withoutMetadata(n.peer, n.note) : [n]));
      const changed = narrowed.filter((n) => n.note).map((n) => n.note);
      const left = narrowed.flatMap((n) => (n.peer ? [n.peer] : []));
      if (changed.length > 0) lines.push(`${where}: ${changed.join("; ")}`);
      if (left.length > 0) kept.push({ ...rule, [d.peers]: left });
      else lines.push(`${where} had nothing left inside the guardrail: removed`);
    });
    spec[d.field] = kept;
  }
  return lines;
}

/** Egress peers may never cover a cloud metadata endpoint: excepted from a range, or the peer dropped. */
function withoutMetadata(peer: Rec, note: string | undefined): Array<{ peer?: Rec; note?: string }> {
  const block = asRec(peer.ipBlock);
  if (!block) return [{ peer, ...(note ? { note } : {}) }];
  const cidr = String(block.cidr ?? "");
  if (isMetadataEndpoint(cidr))
    return [{ note: `address range ${cidr} is a cloud metadata endpoint, which previews never reach: dropped` }];
  const except = Array.isArray(block.except) ? block.except.map(String) : [];
  const missing = metadataInside(cidr).filter((m) => !except.some((e) => cidrWithin(m, e)));
  if (missing.length === 0) return [{ peer, ...(note ? { note } : {}) }];
  return [
    {
      peer: { ...peer, ipBlock: { ...block, except: [...except, ...missing] } },
      note: `address range ${cidr}: the cloud metadata endpoints in it (${missing.join(", ")}) excepted`,
    },
  ];
}

/** Every namespace is inside the guardrail (egress when it is open). */
const ANY_NAMESPACE = "any" as const;

/** A peer inside the guardrail is kept as is; outside, it keeps its in-namespace part, or (an address range) goes. */
function narrowPeer(
  peer: Rec,
  namespaces: ReadonlySet<string> | typeof ANY_NAMESPACE,
  cidrs: readonly string[],
): Array<{ peer?: Rec; note?: string }> {
  const block = asRec(peer.ipBlock);
  if (block) {
    const cidr = String(block.cidr ?? "");
    if (cidrs.some((allowed) => cidrWithin(cidr, allowed))) return [{ peer }];
    return [{ note: `address range ${cidr} is outside the allowed ranges (${cidrs.join(", ") || "none"}): dropped` }];
  }
  const selector = asRec(peer.namespaceSelector);
  if (!selector || namespaces === ANY_NAMESPACE) return [{ peer }];
  const pinned = pinnedNamespaces(selector);
  if (pinned && pinned.every((n) => namespaces.has(n))) return [{ peer }];
  const inNamespace: Rec = { podSelector: asRec(peer.podSelector) ?? {} };
  const from = pinned ? `namespace ${pinned.join(", ")}` : "namespaces selected by label";
  return [{ peer: inNamespace, note: `${from}: narrowed to this namespace (allowed: ${[...namespaces].join(", ")})` }];
}

/** The namespaces a selector is pinned to by `kubernetes.io/metadata.name`, or undefined when it is not pinned. */
function pinnedNamespaces(selector: Rec): string[] | undefined {
  const sets: string[][] = [];
  const byLabel = asRec(selector.matchLabels)?.[METADATA_NAME];
  if (typeof byLabel === "string") sets.push([byLabel]);
  for (const e of Array.isArray(selector.matchExpressions) ? selector.matchExpressions : []) {
    const expr = asRec(e);
    if (expr?.key === METADATA_NAME && expr.operator === "In" && Array.isArray(expr.values))
      sets.push(expr.values.map(String));
  }
  if (sets.length === 0) return undefined;
  return sets.reduce((a, b) => a.filter((n) => b.includes(n)));
}

function fenceText(peers: Rec[]): string {
  return peers
    .map((p) => {
      const block = asRec(p.ipBlock);
      if (block)
        return `${String(block.cidr)}${Array.isArray(block.except) && block.except.length ? " but the cloud metadata endpoints" : ""}`;
      const selector = asRec(p.namespaceSelector);
      if (!selector) return "this namespace";
      const pinned = asRec(selector.matchLabels)?.[METADATA_NAME];
      return pinned === undefined ? "every namespace" : `namespace ${String(pinned)}`;
    })
    .join(", ");
}
