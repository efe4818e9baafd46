/**
 * Which kinds live outside namespaces. In a deploy the scope comes from the cluster's API discovery
 * (`Cluster.resourceScope`), so a custom cluster-scoped kind is caught too; this built-in list answers only for kinds
 * discovery does not serve, and offline (`preview-bot render`, which says so in its summary).
 */
import type { KubeObject } from "../../shared/preview.js";

const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  // core and built-in APIs
  "Namespace",
  "Node",
  "PersistentVolume",
  "ComponentStatus",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "APIService",
  "StorageClass",
  "VolumeAttachment",
  "CSIDriver",
  "CSINode",
  "VolumeAttributesClass",
  "PriorityClass",
  "RuntimeClass",
  "IngressClass",
  "IPAddress",
  "ServiceCIDR",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "MutatingAdmissionPolicy",
  "MutatingAdmissionPolicyBinding",
  "CertificateSigningRequest",
  "ClusterTrustBundle",
  "FlowSchema",
  "PriorityLevelConfiguration",
  "DeviceClass",
  "PodSecurityPolicy",
  // Gateway API and common add-ons
  "GatewayClass",
  "ClusterIssuer",
  "ClusterSecretStore",
  "ClusterExternalSecret",
  "ClusterPolicy",
  "ClusterImagePolicy",
]);

/** `apiVersion/kind` → scope, from API discovery. */
export type Scopes = ReadonlyMap<string, "Namespaced" | "Cluster">;

export const scopeKey = (apiVersion: string, kind: string): string => `${apiVersion}/${kind}`;

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED_KINDS.has(kind);
}

/** The object's scope: discovery's answer when there is one, else the built-in list. */
export function scopeOf(obj: KubeObject, scopes?: Scopes): "Namespaced" | "Cluster" {
  return scopes?.get(scopeKey(obj.apiVersion, obj.kind)) ?? (isClusterScoped(obj.kind) ? "Cluster" : "Namespaced");
}

/** `Deployment "web"` — for messages. */
export function describeObject(obj: KubeObject): string {
  return `${obj.kind} "${obj.metadata.name ?? obj.metadata.generateName ?? "(unnamed)"}"`;
}
