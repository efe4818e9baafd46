/** Small pieces of the Cluster service: apply order, kind keys, selectors, an abortable sleep, discovery access. */
import {
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  type Configuration,
  type KubernetesObject,
  type V1APIResourceList,
} from "@kubernetes/client-node";
import { MANAGED_BY_KEY, MANAGED_BY_VALUE } from "../shared/labels.js";

/** Apply order: config the workloads need first, then workloads, then routes and other custom resources. */
const APPLY_ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "ResourceQuota",
  "LimitRange",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "SecretProviderClass",
  "PersistentVolumeClaim",
  "Role",
  "RoleBinding",
  "NetworkPolicy",
  // A protected preview's access policy (Envoy Gateway) before anything a route serves, so no route runs without it.
  "SecurityPolicy",
  "Service",
  "Deployment",
  "StatefulSet",
  "Job",
  "CronJob",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
];
export const rank = (kind: string): number =>
  APPLY_ORDER.includes(kind) ? APPLY_ORDER.indexOf(kind) : APPLY_ORDER.length;

/**
 * KubernetesObjectApi with its discovery lookup exposed (to tell namespaced kinds from cluster-scoped ones), and a
 * `patch` that sends the object exactly as given. The library's own passes the body through its typed models, which
 * drop every field they do not know and rename some they do: a NetworkPolicy rule's `from` (`_from` in the model)
 * and a LimitRange's `default` (`_default`) never reached the server, so a policy allowing ingress "from this
 * namespace only" was applied as "from everywhere", and default limits were lost.
 */
export class ObjectApi extends KubernetesObjectApi {
  async namespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    return (await this.resource(apiVersion, kind))?.namespaced;
  }

  /** The resources one group version serves (`/api/v1`, `/apis/<group>/<version>`), from API discovery. */
  async resourceList(apiVersion: string): Promise<V1APIResourceList> {
    const request = this.configuration.baseServer.makeRequestContext(this.apiVersionPath(apiVersion), HttpMethod.GET);
    request.setHeaderParam("Accept", "application/json");
    return this.requestPromise<V1APIResourceList & KubernetesObject>(request, "V1APIResourceList");
  }

  override async patch<T extends KubernetesObject>(
    spec: T,
    pretty?: string,
    dryRun?: string,
    fieldManager?: string,
    force?: boolean,
    patchStrategy: PatchStrategy = PatchStrategy.StrategicMergePatch,
    options?: Configuration,
  ): Promise<T> {
    const request = (options ?? this.configuration).baseServer.makeRequestContext(
      await this.specUriPath(spec, "patch"),
      HttpMethod.PATCH,
    );
    request.setHeaderParam("Accept", "application/json, */*;q=0.8");
    request.setHeaderParam("Content-Type", patchStrategy);
    if (pretty !== undefined) request.setQueryParam("pretty", pretty);
    if (dryRun !== undefined) request.setQueryParam("dryRun", dryRun);
    if (fieldManager !== undefined) request.setQueryParam("fieldManager", fieldManager);
    if (force !== undefined) request.setQueryParam("force", String(force));
    request.setBody(JSON.stringify(spec));
    return this.requestPromise<T>(request, undefined, options);
  }
}

export const groupOf = (apiVersion: string): string =>
  apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
export const kindKey = (apiVersion: string, kind: string): string => `${apiVersion}/${kind}`;
export function parseKindKey(key: string): { apiVersion: string; kind: string } | undefined {
  const i = key.lastIndexOf("/");
  return i > 0 ? { apiVersion: key.slice(0, i), kind: key.slice(i + 1) } : undefined;
}
export const selectorOf = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
/** Carries our managed-by label: the only things preview-bot ever deletes or overwrites. */
export const isOurs = (labels: Record<string, string> | undefined): boolean =>
  labels?.[MANAGED_BY_KEY] === MANAGED_BY_VALUE;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
