/** Which kinds live outside namespaces. Decided by kind name (the render has no API discovery to ask). */
import type { KubeObject } from "../../shared/preview.js";

export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  // core and built-in APIs
  "Namespace", "Node", "PersistentVolume", "ComponentStatus",
  "ClusterRole", "ClusterRoleBinding",
  "CustomResourceDefinition", "APIService",
  "StorageClass", "VolumeAttachment", "CSIDriver", "CSINode", "VolumeAttributesClass",
  "PriorityClass", "RuntimeClass", "IngressClass", "IPAddress", "ServiceCIDR",
  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
  "CertificateSigningRequest", "ClusterTrustBundle", "FlowSchema", "PriorityLevelConfiguration",
  "DeviceClass", "PodSecurityPolicy",
  // Gateway API and common add-ons
  "GatewayClass", "ClusterIssuer", "ClusterSecretStore", "ClusterExternalSecret", "ClusterPolicy", "ClusterImagePolicy",
]);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED_KINDS.has(kind);
}

/** `Deployment "web"` — for messages. */
export function describeObject(obj: KubeObject): string {
  return `${obj.kind} "${obj.metadata.name ?? obj.metadata.generateName ?? "(unnamed)"}"`;
}
