/**
 * The preview namespace's labels and annotations, written by one field manager with server-side apply only — never a
 * merge patch beside it. A real API server gives a merge patch (an Update) ownership of the fields it changes, and a
 * create owns everything it set; an apply that later leaves such an annotation out cannot remove it (the expiry of
 * `/preview extend` would stick), and an apply that does not resend what it owns removes it (the URL would be lost).
 * So every write here sends the whole set preview-bot owns (read from managedFields), with the live resourceVersion
 * as a precondition (a concurrent write is retried, not overwritten), and the state annotations the deploy decides
 * are removed when someone else still holds them.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Api,
  type KubernetesObject,
  type V1Namespace,
} from "@kubernetes/client-node";
import {
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
  APPLIED_KINDS_ANNOTATION,
  BRANCH_ANNOTATION,
  EXPIRES_ANNOTATION,
  LAST_RUN_ANNOTATION,
  MANAGED_BY,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
  STATE_ANNOTATION,
  TITLE_ANNOTATION,
  URL_ANNOTATION,
  EXTRA_URLS_ANNOTATION,
} from "../shared/labels.js";
import { SLEEP_BOOKKEEPING } from "../shared/sleep.js";
import { isConflict, kubeError } from "./kube-errors.js";
import { appliedMetadata } from "./managed-fields.js";
import type { ObjectApi } from "./support.js";

/**
 * Annotation on the preview namespace: the cluster-scoped kinds applied for the preview (like
 * APPLIED_KINDS_ANNOTATION).
 */
export const APPLIED_CLUSTER_KINDS_ANNOTATION = "preview-bot.dev/applied-cluster-kinds";
/** What the cluster service and sleep keep for themselves, and the last run (until the new one ends): ensureNamespace
 * keeps these. */
const BOOKKEEPING = [
  APPLIED_KINDS_ANNOTATION,
  APPLIED_CLUSTER_KINDS_ANNOTATION,
  LAST_RUN_ANNOTATION,
  ...SLEEP_BOOKKEEPING,
];
/** What a deploy decides: after ensureNamespace, each is exactly as given, or absent. */
const DECIDED = [
  STATE_ANNOTATION,
  URL_ANNOTATION,
  EXTRA_URLS_ANNOTATION,
  EXPIRES_ANNOTATION,
  TITLE_ANNOTATION,
  SHA_ANNOTATION,
  BRANCH_ANNOTATION,
  REPOSITORY_ANNOTATION,
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
];
const ATTEMPTS = 5;

export interface NamespaceMetaOptions {
  core: CoreV1Api;
  objects: ObjectApi;
  fieldManager: string;
}

type Labels = Record<string, string>;

export class NamespaceMeta {
  private readonly mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

  constructor(private readonly o: NamespaceMetaOptions) {}

  private apply(
    name: string,
    resourceVersion: string | undefined,
    labels: Labels,
    annotations: Labels,
  ): Promise<KubernetesObject> {
    const metadata = {
      name,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { ...labels, ...MANAGED_BY },
      annotations,
    };
    return this.o.objects.patch(
      { apiVersion: "v1", kind: "Namespace", metadata },
      undefined,
      undefined,
      this.o.fieldManager,
      true,
      PatchStrategy.ServerSideApply,
    );
  }

  /** Re-read and retry while another writer moves the resourceVersion under us. */
  private async withRetry(
    doing: string,
    read: () => Promise<V1Namespace>,
    write: (ns: V1Namespace) => Promise<void>,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const ns = await read();
      try {
        return await write(ns);
      } catch (err) {
        if (isConflict(err) && attempt < ATTEMPTS) continue;
        throw kubeError(doing, err);
      }
    }
  }

  /**
   * What preview-bot's apply owns now (all our labels and preview-bot.dev/ annotations when the server keeps no
   * managedFields).
   */
  private owned(ns: V1Namespace): { labels: Labels; annotations: Labels } {
    const fromFields = appliedMetadata(ns, this.o.fieldManager);
    if (fromFields) return fromFields;
    const ours = (m: Labels | undefined): Labels =>
      Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => k.startsWith("preview-bot.dev/") || k in MANAGED_BY));
    return { labels: ours(ns.metadata?.labels), annotations: ours(ns.metadata?.annotations) };
  }

  /** The deploy's labels and annotations, keeping the bookkeeping ones; decided annotations left out are removed. */
  async ensure(name: string, read: () => Promise<V1Namespace>, labels: Labels, annotations: Labels): Promise<void> {
    const doing = `ensuring namespace "${name}"`;
    let sent: Labels = {};
    await this.withRetry(doing, read, async (ns) => {
      const kept = Object.fromEntries(
        BOOKKEEPING.filter((k) => ns.metadata?.annotations?.[k] !== undefined).map((k) => [
          k,
          ns.metadata!.annotations![k]!,
        ]),
      );
      sent = { ...annotations, ...kept };
      await this.apply(name, ns.metadata?.resourceVersion, labels, sent);
    });
    const live = (await read()).metadata?.annotations ?? {};
    const stuck = DECIDED.filter((k) => live[k] !== undefined && sent[k] === undefined);
    if (stuck.length === 0) return;
    // Still there: another manager (an older preview-bot's merge patch, a person's kubectl annotate) holds them too.
    try {
      await this.o.core.patchNamespace(
        {
          name,
          body: { metadata: { annotations: Object.fromEntries(stuck.map((k) => [k, null])) } },
          fieldManager: this.o.fieldManager,
        },
        this.mergePatch,
      );
    } catch (err) {
      throw kubeError(`${doing}: removing ${stuck.join(", ")} (held by another field manager)`, err);
    }
  }

  /** Set (or, with null, remove) some annotations, resending everything else preview-bot owns. */
  async annotate(
    name: string,
    read: () => Promise<V1Namespace>,
    changes: Record<string, string | null>,
    doing: string,
  ): Promise<void> {
    await this.withRetry(doing, read, async (ns) => {
      const { labels, annotations } = this.owned(ns);
      const next: Labels = { ...annotations };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      await this.apply(name, ns.metadata?.resourceVersion, labels, next);
    });
  }
}
