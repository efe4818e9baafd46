/**
 * Where preview pods may never connect, whatever egress mode: the cloud metadata endpoints. A pod that reaches one
 * can read the node's identity (its cloud credentials, its bootstrap data) on most clouds, so the guardrail
 * NetworkPolicy leaves them out of every egress rule, and the PR's own NetworkPolicies are narrowed the same way
 * (confine-objects.ts): policies add up, so one PR rule allowing 169.254.169.254 would otherwise reopen it.
 *
 * Not the whole link-local range: NodeLocal DNSCache listens on 169.254.20.10, and pods must keep their DNS.
 */
import { cidrWithin } from "./cidr.js";

/** The endpoints, one address each (as /32 or /128), with whose they are. */
const METADATA_ENDPOINTS: ReadonlyArray<{ cidr: string; what: string }> = [
  { cidr: "169.254.169.254/32", what: "instance metadata (AWS, Azure IMDS, GCP, most clouds)" },
  { cidr: "169.254.169.252/32", what: "GKE metadata server (where GKE redirects 169.254.169.254)" },
  { cidr: "169.254.170.23/32", what: "EKS Pod Identity agent" },
  { cidr: "168.63.129.16/32", what: "Azure WireServer and host agent (DNS on port 53 stays open)" },
  { cidr: "fd00:ec2::254/128", what: "AWS instance metadata over IPv6" },
  { cidr: "fd00:ec2::23/128", what: "EKS Pod Identity agent over IPv6" },
  { cidr: "fd20:ce::254/128", what: "GCP metadata over IPv6" },
];

/** Azure's WireServer is also the VNet's DNS resolver (pods with dnsPolicy Default use it): port 53 stays open. */
const AZURE_DNS = "168.63.129.16/32";

type Peer = Record<string, unknown>;
const family = (cidr: string): 4 | 6 => (cidr.includes(":") ? 6 : 4);

/** The metadata endpoints inside `cidr` (same family), to list as its `except`. */
export function metadataInside(cidr: string): string[] {
  return METADATA_ENDPOINTS.filter((m) => family(m.cidr) === family(cidr) && cidrWithin(m.cidr, cidr)).map(
    (m) => m.cidr,
  );
}

/** Whether `cidr` lies inside one metadata endpoint (it can only be one of them: /32 or /128). */
export function isMetadataEndpoint(cidr: string): boolean {
  return METADATA_ENDPOINTS.some((m) => family(m.cidr) === family(cidr) && cidrWithin(cidr, m.cidr));
}

/** An ipBlock peer for `cidr` with every metadata endpoint inside it excepted (an existing `except` kept). */
export function ipBlockWithoutMetadata(cidr: string, except: readonly string[] = []): Peer {
  const all = [...new Set([...except, ...metadataInside(cidr)])];
  return { ipBlock: { cidr, ...(all.length ? { except: all } : {}) } };
}

/**
 * Open egress, as NetworkPolicy peers: every address of both families except the metadata endpoints, and every pod
 * in the cluster (some CNIs, Cilium among them, do not apply ipBlock rules to pod addresses).
 */
export function openEgressPeers(): Peer[] {
  return [ipBlockWithoutMetadata("0.0.0.0/0"), ipBlockWithoutMetadata("::/0"), { namespaceSelector: {} }];
}

/** The rule that keeps DNS through Azure's resolver open (only port 53 of the WireServer address). */
export const AZURE_DNS_RULE = {
  to: [{ ipBlock: { cidr: AZURE_DNS } }],
  ports: [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ],
};
