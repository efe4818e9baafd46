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
import { isConflict, kubeMessage } from "./kube-errors.js";

/** Apply order: config the workloads need first, then workloads, then routes and other custom resources. */
export const APPLY_ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "ResourceQuota",
  "LimitRange",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "SecretProviderClass",
  "PersistentVolumeClaim",
  "RoleBinding",
  "NetworkPolicy",
  // A protected preview's access policy (Envoy Gateway) before anything a route serves, so no route runs without it.
  "SecurityPolicy",
  "Service",
  "Deployment",
  "StatefulSet",
  "ReplicationController",
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

  /**
   * Server-side apply as a dry run (`dryRun=All`): the whole admission chain and authorization run, nothing is
   * stored. Answers the status, body and warnings instead of throwing, since a refusal is the point of asking.
   */
  async dryRunApply(spec: KubernetesObject, fieldManager: string): Promise<RawAnswer> {
    let request = this.configuration.baseServer.makeRequestContext(
      await this.specUriPath(spec, "patch"),
      HttpMethod.PATCH,
    );
    request.setHeaderParam("Accept", "application/json, */*;q=0.8");
    request.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    request.setQueryParam("dryRun", "All");
    request.setQueryParam("fieldManager", fieldManager);
    request.setQueryParam("force", "true");
    request.setBody(JSON.stringify(spec));
    await this.configuration.authMethods.default?.applySecurityAuthentication(request);
    for (const m of this.configuration.middleware) request = await m.pre(request).toPromise();
    let response = await this.configuration.httpApi.send(request).toPromise();
    for (const m of this.configuration.middleware) response = await m.post(response).toPromise();
    const text = await response.body.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.httpStatusCode, body, warnings: warningTexts(response.headers.warning) };
  }
}

/** What the API server answered a request, with its warnings (the `Warning` headers: Pod Security, deprecations). */
export interface RawAnswer {
  status: number;
  body: unknown;
  warnings: string[];
}

/** The texts of `Warning: 299 - "…"` headers (a fetch joins several with ", "). */
function warningTexts(header: string | undefined): string[] {
  if (!header) return [];
  return [...header.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, "$1"));
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

const QUOTA_CONFLICT_TRIES = 6;
const isQuotaConflict = (err: unknown): boolean =>
  isConflict(err) && /cannot be fulfilled on resourcequotas\b/.test(kubeMessage(err));

/**
 * A write, sent again when the quota admission controller answers 409 ("Operation cannot be fulfilled on
 * resourcequotas …"): several writes in one namespace raced to charge its quota and this one lost. Nothing was
 * written, so it is sent again (controllers retry these; kubectl leaves them to the user), a few times with a short
 * random pause. Any other error, or the last conflict, is thrown.
 */
export async function againOnQuotaConflict<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isQuotaConflict(err) || attempt >= QUOTA_CONFLICT_TRIES) throw err;
      await sleep(Math.random() * 100 * 2 ** attempt);
    }
  }
}

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
