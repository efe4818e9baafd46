/**
 * The doors' read side (Slack `/preview list|status`): previews as the cluster records them on their namespaces.
 * The cluster is the record of what exists, so every replica answers the same without a database of its own.
 */
import { ASLEEP_SINCE_ANNOTATION } from "../shared/sleep.js";
import type { PreviewDirectory, PreviewSummary } from "../shared/dispatch.js";
import {
  BRANCH_ANNOTATION,
  EXPIRES_ANNOTATION,
  MANAGED_BY,
  PR_LABEL,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
  STATE_ANNOTATION,
  TITLE_ANNOTATION,
  URL_ANNOTATION,
  EXTRA_URLS_ANNOTATION,
} from "../shared/labels.js";
import type { Cluster } from "../shared/preview.js";
import { readPreviewState } from "../shared/state.js";

type PreviewNamespace = Awaited<ReturnType<Cluster["listNamespaces"]>>[number];

/** The preview a namespace records (its labels and annotations), or undefined for a namespace that names none. */
export function summaryOf(ns: PreviewNamespace): PreviewSummary | undefined {
  const full = ns.annotations[REPOSITORY_ANNOTATION];
  const number = Number(ns.labels[PR_LABEL]);
  if (!full || !Number.isInteger(number)) return undefined;
  const [owner, repo] = full.split("/") as [string, string];
  const state = readPreviewState(ns.annotations[STATE_ANNOTATION], ns.phase);
  const summary: PreviewSummary = {
    key: `${full}#${number}`,
    owner,
    repo,
    number,
    state,
    namespace: ns.name,
  };
  const optional: Array<[keyof PreviewSummary, string | undefined]> = [
    ["url", ns.annotations[URL_ANNOTATION]],
    ["title", ns.annotations[TITLE_ANNOTATION]],
    ["sha", ns.annotations[SHA_ANNOTATION]],
    ["branch", ns.annotations[BRANCH_ANNOTATION]],
    ["expiresAt", ns.annotations[EXPIRES_ANNOTATION]],
    ["asleepSince", ns.annotations[ASLEEP_SINCE_ANNOTATION]],
  ];
  for (const [k, v] of optional) if (v) (summary as unknown as Record<string, string>)[k] = v;
  const extra = (ns.annotations[EXTRA_URLS_ANNOTATION] ?? "")
    .split(",")
    .map((pair) => pair.split("="))
    .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== "" && /^https?:\/\//.test(kv[1] ?? ""))
    .map(([name, url]) => ({ name, url }));
  if (extra.length) summary.extraUrls = extra;
  return summary;
}

export function createClusterDirectory(
  cluster: Cluster,
  /** Deploys waiting for a seat (the fleet's line): shown as previews in state `queued`. */
  queued?: () => Promise<PreviewSummary[]>,
): PreviewDirectory {
  async function all(): Promise<PreviewSummary[]> {
    const namespaces = await cluster.listNamespaces({ ...MANAGED_BY });
    const out: PreviewSummary[] = queued ? await queued() : [];
    for (const ns of namespaces) {
      const summary = summaryOf(ns);
      if (summary) out.push(summary);
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }
  return {
    async list(filter) {
      return (await all()).filter(
        (p) => (!filter?.owner || p.owner === filter.owner) && (!filter?.repo || p.repo === filter.repo),
      );
    },
    async get({ owner, repo, number }) {
      return (await all()).find((p) => p.owner === owner && p.repo === repo && p.number === number);
    },
  };
}
