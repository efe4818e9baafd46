/**
 * A pull request's objects, held inside the guardrails (namespace-guardrails.ts) before anything is applied:
 * - refused: a Namespace object (the preview namespace and its labels are the bot's), and any object that would
 *   take over a guardrail (a ResourceQuota, LimitRange or NetworkPolicy named like the bot's, a RoleBinding named
 *   like the bot's own);
 * - rewritten: NetworkPolicies are additive, so a PR policy allowing ingress from everywhere would undo the
 *   guardrail's default deny. Each ingress rule (and, with restricted egress, each egress rule) is narrowed to the
 *   guardrail's peers: a rule with no peers (every source) gets the guardrail's; a peer in another namespace keeps
 *   only its in-namespace part; an address range outside the allowed ones is dropped.
 * A peer counts as inside only when it provably is: a namespaceSelector must pin `kubernetes.io/metadata.name`
 * (set by the API server, so a PR cannot forge it) to allowed namespaces. Rewrites and refusals are returned one
 * line each, for the check run.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { KubeObject } from "../../shared/preview.js";
import {
  egressPeers,
  GUARDRAIL_NAME,
  ingressPeers,
  ROLE_BINDING_NAME,
  type GuardrailSettings,
} from "./namespace-guardrails.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const METADATA_NAME = "kubernetes.io/metadata.name";
const GUARDED_KINDS = new Set(["ResourceQuota", "LimitRange", "NetworkPolicy"]);

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
    ...(settings.egress === "restricted"
      ? [
          {
            field: "egress",
            peers: "to",
            fence: egressPeers(settings),
            namespaces: new Set([namespace]),
            cidrs: settings.egressToCidrs,
          },
        ]
      : []),
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
      const narrowed = peers.flatMap((p) => narrowPeer(asRec(p) ?? {}, d.namespaces, d.cidrs));
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

/** A peer inside the guardrail is kept as is; outside, it keeps its in-namespace part, or (an address range) goes. */
function narrowPeer(
  peer: Rec,
  namespaces: ReadonlySet<string>,
  cidrs: readonly string[],
): Array<{ peer?: Rec; note?: string }> {
  const block = asRec(peer.ipBlock);
  if (block) {
    const cidr = String(block.cidr ?? "");
    if (cidrs.some((allowed) => cidrWithin(cidr, allowed))) return [{ peer }];
    return [{ note: `address range ${cidr} is outside the allowed ranges (${cidrs.join(", ") || "none"}): dropped` }];
  }
  const selector = asRec(peer.namespaceSelector);
  if (!selector) return [{ peer }];
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
    .map((p) =>
      asRec(p.ipBlock)
        ? String(asRec(p.ipBlock)!.cidr)
        : asRec(p.namespaceSelector)
          ? `namespace ${String(asRec(asRec(p.namespaceSelector)!.matchLabels)?.[METADATA_NAME])}`
          : "this namespace",
    )
    .join(", ");
}

/** `inner` lies inside `outer` (both CIDRs of one family); false for anything unparsable. */
export function cidrWithin(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  if (!a || !b || a.width !== b.width || a.prefix < b.prefix) return false;
  const shift = BigInt(b.width - b.prefix);
  return a.bits >> shift === b.bits >> shift;
}

function parseCidr(text: string): { bits: bigint; prefix: number; width: number } | undefined {
  const [address = "", prefixText = ""] = text.split("/");
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  if (isIPv4(address) && prefix <= 32)
    return { bits: address.split(".").reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), prefix, width: 32 };
  if (!isIPv6(address) || prefix > 128 || address.includes(".")) return undefined;
  const [head = "", tail] = address.split("::");
  const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return { bits: all.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n), prefix, width: 128 };
}
