/**
 * Recent logs of a preview's pods, for its page: the tail of every container (newest pods first, a bounded number of
 * containers), each fetched with `tailLines` and `limitBytes` so the API server cuts it (the pod's output is the
 * pull request's: a 10 MB line never reaches the bot), then redacted. Only namespaces preview-bot owns.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { redactText } from "../../logger.js";
import type { PodLog } from "../shared/page-data.js";
import { isNotFound, kubeError, kubeMessage } from "./kube-errors.js";
import { isOurs } from "./support.js";

/** Per container: the newest lines, at most this many bytes (like the roll-out diagnosis's LOG_BYTES, but more). */
const PAGE_LOG_LINES = 200;
export const PAGE_LOG_BYTES = 64 * 1024;
const PAGE_LOG_CONTAINERS = 12;

export interface PodLogReader {
  /** The recent logs of the preview namespace's containers; none when the namespace is absent or not ours. */
  recent(namespace: string): Promise<PodLog[]>;
}

export function createPodLogReader(o: { kubeConfig: KubeConfig }): PodLogReader {
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  return {
    async recent(namespace) {
      const doing = `reading the recent logs of namespace "${namespace}"`;
      try {
        const ns = await core.readNamespace({ name: namespace });
        if (!isOurs(ns.metadata?.labels)) return [];
      } catch (err) {
        if (isNotFound(err)) return [];
        throw kubeError(doing, err);
      }
      let pods: V1Pod[];
      try {
        pods = (await core.listNamespacedPod({ namespace })).items;
      } catch (err) {
        throw kubeError(`${doing}: listing pods`, err);
      }
      const newest = (p: V1Pod) => Date.parse(String(p.metadata?.creationTimestamp ?? 0)) || 0;
      const containers = pods
        .sort((a, b) => newest(b) - newest(a))
        .flatMap((p) => (p.spec?.containers ?? []).map((c) => ({ pod: p.metadata?.name ?? "", container: c.name })))
        .slice(0, PAGE_LOG_CONTAINERS);
      return Promise.all(
        containers.map(async ({ pod, container }): Promise<PodLog> => {
          try {
            const text = String(
              await core.readNamespacedPodLog({
                name: pod,
                namespace,
                container,
                tailLines: PAGE_LOG_LINES,
                limitBytes: PAGE_LOG_BYTES,
              }),
            );
            // The API server stops at limitBytes: a log that long was cut there.
            const cut = Buffer.byteLength(text) >= PAGE_LOG_BYTES;
            return { pod, container, text: redactText(text), ...(cut ? { truncated: true } : {}) };
          } catch (err) {
            return { pod, container, text: `(no log: ${redactText(kubeMessage(err))})` };
          }
        }),
      );
    },
  };
}
