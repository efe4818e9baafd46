/**
 * What sleep-workloads.ts and sleep-routes.ts share: listing a kind of the preview's own objects, one server-side
 * apply under the sleep field manager, and the question every restore asks first — is this field still the sleep's
 * (a deploy in between takes it back, and then the deploy's value stands).
 */
import { PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { SLEEP_FIELD_MANAGER } from "../shared/sleep.js";
import { isNotFound, kubeError } from "./kube-errors.js";
import { appliedOwns } from "./managed-fields.js";
import { isOurs, type ObjectApi } from "./support.js";

/** A live object as listed (the fields sleep reads are looked up by path, never trusted to a typed model). */
export type Live = KubernetesObject & { spec?: Record<string, unknown> };

export const describeLive = (o: Live): string => `${o.kind ?? "object"} "${o.metadata?.name ?? ""}"`;

export class SleepObjects {
  constructor(
    readonly objects: ObjectApi,
    private readonly manager = SLEEP_FIELD_MANAGER,
  ) {}

  /** The preview's objects of one kind in `namespace` (only ours); none when the cluster does not serve the kind. */
  async list(apiVersion: string, kind: string, namespace: string): Promise<Live[]> {
    try {
      if (!(await this.objects.namespaced(apiVersion, kind))) return [];
      const items = (await this.objects.list(apiVersion, kind, namespace)).items as Live[];
      return items
        .filter((o) => isOurs(o.metadata?.labels))
        .map((o) => ({ ...o, apiVersion, kind, metadata: { ...o.metadata, namespace } }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw kubeError(`listing ${kind} in namespace "${namespace}"`, err);
    }
  }

  /**
   * Server-side apply of `body` (name, namespace, and only the fields sleep owns) under the sleep field manager, with
   * force: the fields it names move to the sleep, whoever held them; the annotations it leaves out that it owned go.
   */
  async apply(
    live: Live,
    body: { annotations?: Record<string, string>; spec?: Record<string, unknown> },
  ): Promise<void> {
    const obj = {
      apiVersion: live.apiVersion!,
      kind: live.kind!,
      metadata: {
        name: live.metadata!.name!,
        namespace: live.metadata!.namespace!,
        ...(body.annotations ? { annotations: body.annotations } : {}),
      },
      ...(body.spec ? { spec: body.spec } : {}),
    };
    await this.objects.patch(obj, undefined, undefined, this.manager, true, PatchStrategy.ServerSideApply);
  }

  /**
   * Whether the field at `path` is still what the sleep set: its Apply entry owns it (a deploy since then owns it
   * instead). A server that keeps no managedFields is asked `fallback` (the value the sleep set is still there).
   */
  holds(live: Live, path: readonly string[], fallback: () => boolean): boolean {
    const fields = (live.metadata as { managedFields?: unknown[] } | undefined)?.managedFields;
    if (!Array.isArray(fields) || fields.length === 0) return fallback();
    return appliedOwns(live, this.manager, path);
  }
}

/** A field at a path of a plain object (undefined when any step is missing). */
export function at(obj: unknown, ...path: string[]): unknown {
  let v: unknown = obj;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}
