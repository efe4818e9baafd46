/**
 * What a preview may not contain, checked on the rendered objects before anything is applied. Each rule either
 * rewrites the object and says so (`rewrites`), or refuses it with the reason (`problems`; the render then fails
 * listing every problem, so the author fixes them all in one push):
 * - `LoadBalancer` and `NodePort` Services become `ClusterIP` (previews are reached through their route, and the
 *   namespace quota allows no load balancers or node ports);
 * - `ExternalName` Services (a name inside the namespace resolving to anything, `kubernetes.default` included) and
 *   `externalIPs` (traffic interception, CVE-2020-8554) are refused;
 * - service-account-token Secrets (a long-lived token minted for any account named) are refused;
 * - RoleBindings to a ClusterRole outside `bindableClusterRoles` are refused, and ClusterRoleBindings always;
 * - a pod whose `serviceAccountName` is the bot's own account is refused;
 * - pod specs the Pod Security level forbids (pod-security.ts) and `nodeName` pinning are refused;
 * - workloads asking for more than `maxReplicas` replicas (or HPAs allowing more) are refused;
 * - Ingress `defaultBackend` (catches every host on a shared controller) and snippet annotations (raw
 *   controller configuration, CVE-2021-25742) are refused;
 * - what a pod may ask of its neighbours (priority, tolerations, node selection, pod affinity, emptyDir sizes) and
 *   how many objects of one kind a preview may hold (neighbours.ts); the annotations routes, Ingresses and Services
 *   may keep (annotations.ts); monitoring objects (monitoring.ts); route kinds other than HTTPRoute.
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "../render/cluster-scoped.js";
import { podSpecOf } from "../render/images.js";
import { filterAnnotations, filtersAnnotations } from "./annotations.js";
import { isMonitoring, monitoringRules } from "./monitoring.js";
import { countProblems, neighbourRules } from "./neighbours.js";
import { podSecurityProblems } from "./pod-security.js";
import { DEFAULT_NEIGHBOURS, type GuardrailPolicy } from "./settings.js";

export { DEFAULT_GUARDRAILS, type GuardrailPolicy } from "./settings.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

const SNIPPET_ANNOTATION = /snippets?$/i;
const REPLICATED = new Set(["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"]);

function service(obj: KubeObject, problems: string[], rewrites: string[]): void {
  const spec = asRec(obj.spec);
  if (!spec) return;
  if (spec.type === "ExternalName")
    problems.push(
      `${describeObject(obj)}: ExternalName Services are refused (the name could resolve to anything, the cluster's own API included)`,
    );
  if (Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0)
    problems.push(
      `${describeObject(obj)}: externalIPs are refused (they intercept traffic for those addresses cluster-wide)`,
    );
  if (spec.type === "LoadBalancer" || spec.type === "NodePort") {
    rewrites.push(
      `${describeObject(obj)}: type ${String(spec.type)} → ClusterIP (previews are reached through their route; no load balancers or node ports)`,
    );
    spec.type = "ClusterIP";
    for (const key of [
      "loadBalancerIP",
      "loadBalancerSourceRanges",
      "loadBalancerClass",
      "externalTrafficPolicy",
      "healthCheckNodePort",
      "allocateLoadBalancerNodePorts",
    ])
      delete spec[key];
    if (Array.isArray(spec.ports)) for (const p of spec.ports) delete asRec(p)?.nodePort;
  }
}

function rbac(obj: KubeObject, policy: GuardrailPolicy, problems: string[]): void {
  if (obj.kind === "ClusterRoleBinding") {
    problems.push(
      `${describeObject(obj)}: ClusterRoleBindings are refused (they grant rights in every namespace); use a RoleBinding`,
    );
    return;
  }
  const roleRef = asRec(obj.roleRef);
  if (
    obj.kind === "RoleBinding" &&
    roleRef?.kind === "ClusterRole" &&
    !policy.bindableClusterRoles.includes(String(roleRef.name))
  ) {
    problems.push(
      `${describeObject(obj)}: binds ClusterRole "${String(roleRef.name)}", which previews may not bind (allowed: ${policy.bindableClusterRoles.join(", ") || "none"}); bind a Role of the preview's own`,
    );
  }
}

function workload(obj: KubeObject, policy: GuardrailPolicy, problems: string[], rewrites: string[]): void {
  const spec = asRec(obj.spec);
  if (REPLICATED.has(obj.kind) && typeof spec?.replicas === "number" && spec.replicas > policy.maxReplicas) {
    problems.push(
      `${describeObject(obj)}: ${spec.replicas} replicas, over the bound of ${policy.maxReplicas} for a preview`,
    );
  }
  if (
    obj.kind === "HorizontalPodAutoscaler" &&
    typeof spec?.maxReplicas === "number" &&
    spec.maxReplicas > policy.maxReplicas
  ) {
    problems.push(
      `${describeObject(obj)}: maxReplicas ${spec.maxReplicas}, over the bound of ${policy.maxReplicas} for a preview`,
    );
  }
  if (obj.kind === "Job" && typeof spec?.parallelism === "number" && spec.parallelism > policy.maxReplicas) {
    problems.push(
      `${describeObject(obj)}: parallelism ${spec.parallelism}, over the bound of ${policy.maxReplicas} for a preview`,
    );
  }
  const pod = podSpecOf(obj);
  if (!pod) return;
  const account = pod.serviceAccountName ?? pod.serviceAccount;
  if (policy.botServiceAccount && account === policy.botServiceAccount) {
    problems.push(
      `${describeObject(obj)}: serviceAccountName "${String(account)}" is preview-bot's own account; give the workload an account of its own`,
    );
  }
  for (const p of podSecurityProblems(pod, policy.podSecurity))
    problems.push(`${describeObject(obj)}: ${p} (refused at Pod Security level "${policy.podSecurity}")`);
  neighbourRules(obj, pod, policy.neighbours ?? DEFAULT_NEIGHBOURS, problems, rewrites);
}

/** Gateway API route kinds preview-bot does not route: their parents would be the manifests' own. */
const UNROUTED = new Set(["GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"]);

function ingress(obj: KubeObject, problems: string[]): void {
  if (asRec(obj.spec)?.defaultBackend !== undefined || asRec(obj.spec)?.backend !== undefined) {
    problems.push(
      `${describeObject(obj)}: defaultBackend is refused (on a shared controller it catches every host); route by host and path rules`,
    );
  }
  for (const key of Object.keys(obj.metadata.annotations ?? {})) {
    if (SNIPPET_ANNOTATION.test(key))
      problems.push(
        `${describeObject(obj)}: annotation ${key} is refused (snippets inject raw configuration into the shared ingress controller)`,
      );
  }
}

/** Apply every rule in place; returns the problems (refusals) and rewrites, one line each. */
export function applyGuardrails(
  objects: KubeObject[],
  policy: GuardrailPolicy,
): { problems: string[]; rewrites: string[] } {
  const problems: string[] = [];
  const rewrites: string[] = [];
  const neighbours = policy.neighbours ?? DEFAULT_NEIGHBOURS;
  problems.push(...countProblems(objects, neighbours));
  for (const obj of objects) {
    if (filtersAnnotations(obj)) filterAnnotations(obj, neighbours.annotations, problems, rewrites);
    if (isMonitoring(obj)) monitoringRules(obj, problems, rewrites);
    if (obj.apiVersion.startsWith("gateway.networking.k8s.io/") && UNROUTED.has(obj.kind))
      problems.push(
        `${describeObject(obj)}: ${obj.kind}s are refused (preview-bot attaches only HTTPRoutes and Ingresses to the operator's gateways; this one would attach where the manifests say)`,
      );
    if (obj.kind === "Service" && obj.apiVersion === "v1") service(obj, problems, rewrites);
    else if (obj.kind === "Secret" && obj.apiVersion === "v1" && obj.type === "kubernetes.io/service-account-token") {
      problems.push(
        `${describeObject(obj)}: service-account-token Secrets are refused (they mint a long-lived token for the account they name)`,
      );
    } else if (obj.apiVersion.startsWith("rbac.authorization.k8s.io/")) rbac(obj, policy, problems);
    else if (obj.kind === "Ingress" && obj.apiVersion.startsWith("networking.k8s.io/")) ingress(obj, problems);
    workload(obj, policy, problems, rewrites);
  }
  return { problems, rewrites };
}
