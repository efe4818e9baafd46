/** The resource types the fake serves, and the discovery documents built from them. */

export interface KindSpec {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Lowercase plural resource name used in paths, e.g. "deployments". */
  plural: string;
  namespaced: boolean;
  /** Whether `status` is a subresource (then create/update/patch/apply of the main resource ignore `status`). */
  statusSubresource?: boolean;
  /**
   * How names are validated: DNS-1123 subdomain (the default), DNS-1123 label (namespaces), DNS-1035 label (services).
   */
  nameFormat?: NameFormat;
  /** Served from a CustomResourceDefinition (kept as sent: no omitempty, no built-in defaults). */
  custom?: boolean;
}

export type NameFormat = "subdomain" | "label" | "dns1035";

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

const core = (kind: string, plural: string, namespaced = true, extra: Partial<KindSpec> = {}): KindSpec => ({
  group: "",
  version: "v1",
  kind,
  plural,
  namespaced,
  ...extra,
});
const grp = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced = true,
  extra: Partial<KindSpec> = {},
): KindSpec => ({
  group,
  version,
  kind,
  plural,
  namespaced,
  ...extra,
});

export const BUILTIN_KINDS: KindSpec[] = [
  core("Namespace", "namespaces", false, { statusSubresource: true, nameFormat: "label" }),
  core("Secret", "secrets"),
  core("ConfigMap", "configmaps"),
  core("Service", "services", true, { statusSubresource: true, nameFormat: "label" }),
  core("ServiceAccount", "serviceaccounts"),
  core("PersistentVolumeClaim", "persistentvolumeclaims", true, { statusSubresource: true }),
  core("ResourceQuota", "resourcequotas", true, { statusSubresource: true }),
  core("LimitRange", "limitranges"),
  core("Pod", "pods", true, { statusSubresource: true }),
  core("Event", "events"),
  core("LimitRange", "limitranges"),
  core("PersistentVolume", "persistentvolumes", false, { statusSubresource: true }),
  grp("apps", "v1", "Deployment", "deployments", true, { statusSubresource: true }),
  grp("apps", "v1", "StatefulSet", "statefulsets", true, { statusSubresource: true }),
  grp("apps", "v1", "ReplicaSet", "replicasets", true, { statusSubresource: true }),
  grp("apps", "v1", "DaemonSet", "daemonsets", true, { statusSubresource: true }),
  grp("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, { statusSubresource: true }),
  grp("batch", "v1", "CronJob", "cronjobs", true, { statusSubresource: true }),
  grp("batch", "v1", "Job", "jobs", true, { statusSubresource: true }),
  grp("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
  grp("networking.k8s.io", "v1", "Ingress", "ingresses", true, { statusSubresource: true }),
  grp("storage.k8s.io", "v1", "StorageClass", "storageclasses", false),
  grp("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false),
  grp("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, {
    statusSubresource: true,
  }),
  grp("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, { statusSubresource: true }),
  grp("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", true, { statusSubresource: true }),
  grp("rbac.authorization.k8s.io", "v1", "Role", "roles"),
  grp("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
  grp("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
  grp("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
];

/** Subresources listed in discovery (after their parent, as the real server orders them). */
const SCALE = { sub: "scale", verbs: ["get", "patch", "update"], group: "autoscaling", version: "v1", kind: "Scale" };
const SUBRESOURCES: Record<
  string,
  Array<{ sub: string; verbs: string[]; group?: string; version?: string; kind?: string }>
> = {
  pods: [{ sub: "log", verbs: ["get"] }],
  deployments: [SCALE],
  statefulsets: [SCALE],
  replicasets: [SCALE],
};

export function apiVersionOf(k: Pick<KindSpec, "group" | "version">): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

export class KindRegistry {
  private readonly kinds: KindSpec[] = [];

  constructor(initial: KindSpec[]) {
    for (const k of initial) this.register(k);
  }

  register(spec: KindSpec): void {
    const i = this.kinds.findIndex(
      (k) => k.group === spec.group && k.version === spec.version && k.plural === spec.plural,
    );
    if (i >= 0) this.kinds[i] = spec;
    else this.kinds.push(spec);
  }

  unregister(group: string, version: string, plural: string): void {
    const i = this.kinds.findIndex((k) => k.group === group && k.version === version && k.plural === plural);
    if (i >= 0) this.kinds.splice(i, 1);
  }

  byPlural(group: string, version: string, plural: string): KindSpec | undefined {
    return this.kinds.find((k) => k.group === group && k.version === version && k.plural === plural);
  }

  byKind(apiVersion: string, kind: string): KindSpec | undefined {
    return this.kinds.find((k) => apiVersionOf(k) === apiVersion && k.kind === kind);
  }

  all(): readonly KindSpec[] {
    return this.kinds;
  }

  hasGroupVersion(group: string, version: string): boolean {
    return this.kinds.some((k) => k.group === group && k.version === version);
  }

  /** `APIVersions` for `/api`. */
  coreVersions(): Record<string, unknown> {
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
    };
  }

  private groupEntry(name: string): Record<string, unknown> | undefined {
    const versions = [...new Set(this.kinds.filter((k) => k.group === name).map((k) => k.version))];
    if (versions.length === 0) return undefined;
    const entries = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: entries, preferredVersion: entries[0] };
  }

  /** `APIGroupList` for `/apis`. */
  groupList(): Record<string, unknown> {
    const names = [...new Set(this.kinds.filter((k) => k.group !== "").map((k) => k.group))];
    return { kind: "APIGroupList", apiVersion: "v1", groups: names.map((n) => this.groupEntry(n)) };
  }

  /** `APIGroup` for `/apis/<group>`, or undefined when the group is not served. */
  group(name: string): Record<string, unknown> | undefined {
    const entry = this.groupEntry(name);
    return entry ? { kind: "APIGroup", apiVersion: "v1", ...entry } : undefined;
  }

  /** `APIResourceList` for `/api/v1` or `/apis/<group>/<version>`. */
  resourceList(group: string, version: string): Record<string, unknown> {
    const resources: Array<Record<string, unknown>> = [];
    for (const k of this.kinds.filter((x) => x.group === group && x.version === version)) {
      resources.push({
        name: k.plural,
        singularName: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: ALL_VERBS,
      });
      if (k.statusSubresource) {
        resources.push({
          name: `${k.plural}/status`,
          singularName: "",
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["get", "patch", "update"],
        });
      }
      for (const s of SUBRESOURCES[k.plural] ?? []) {
        resources.push({
          name: `${k.plural}/${s.sub}`,
          singularName: "",
          namespaced: k.namespaced,
          ...(s.group ? { group: s.group, version: s.version } : {}),
          kind: s.kind ?? k.kind,
          verbs: s.verbs,
        });
      }
    }
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: group ? `${group}/${version}` : version,
      resources,
    };
  }
}
