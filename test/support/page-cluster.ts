/**
 * Previews in a cluster as the deploy leaves them, for the page's tests, screenshots and bench: a namespace with the
 * bot's ownership labels and the annotations the Namespace step and the end of a run write (state, URL, title,
 * commit, expiry, access, hosts, bypass nonce, the last run encoded by the bot's own encoder), and pods whose
 * containers have logs. The page reads them through the real composition (buildApp), as it reads a real cluster.
 */
import { randomBytes } from "node:crypto";
import { ownershipLabels } from "../../src/services/preview/naming.js";
import {
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
  BRANCH_ANNOTATION,
  EXPIRES_ANNOTATION,
  LAST_RUN_ANNOTATION,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
  STATE_ANNOTATION,
  TITLE_ANNOTATION,
  URL_ANNOTATION,
} from "../../src/services/shared/labels.js";
import { encodeLastRun } from "../../src/services/shared/last-run.js";
import type { PagePreview, PodLog } from "../../src/services/shared/page-data.js";
import type { RunReport } from "../../src/services/shared/run-report.js";
import type { FakeKube } from "./fake-kube/index.js";
import { CANARY } from "./page-sample.js";

export interface SeededPreview {
  namespace: string;
  /** The bypass nonce (access: github). */
  nonce?: string;
}

/** The diagnosis a failed roll-out leaves (with a secret in it that the page must never show). */
function failedRun(p: PagePreview): Pick<RunReport, "workloads" | "error"> {
  return {
    error: `rolling out ${p.owner}/${p.repo}#${p.number}: web 0/1 ready: ImagePullBackOff`,
    workloads: [
      {
        kind: "Deployment",
        name: "web",
        ready: false,
        summary: "0/1 ready: ImagePullBackOff",
        diagnosis: [
          `  pod web-7d9f8c6b5-x2k4p: Pending`,
          `  container web: waiting: ImagePullBackOff: Back-off pulling image "ghcr.io/${p.owner}/${p.repo}:${p.sha?.slice(0, 7)}"`,
          `  event Failed (x4): Failed to pull image: not found`,
          `  init container migrate: DATABASE_URL=postgres://app:${CANARY}@db:5432/app`,
        ].join("\n"),
      },
      { kind: "Deployment", name: "worker", ready: true, summary: "1/1 ready" },
    ],
  };
}

/** One preview's namespace, as the deploy writes it; its pods (with these logs) when given. */
export function seedPreview(fake: FakeKube, p: PagePreview, logs: PodLog[] = []): SeededPreview {
  const namespace = p.namespace ?? `${p.repo}-pr-${p.number}`;
  const access = p.access ?? "public";
  const nonce = access === "github" ? randomBytes(18).toString("base64url") : undefined;
  const hosts = p.url ? [new URL(p.url).hostname] : [];
  const d = p.lastDeploy;
  const run = d
    ? encodeLastRun({
        kind: "deploy",
        state: d.state,
        trigger: d.trigger ?? "push",
        startedAt: d.startedAt,
        ...(d.finishedAt ? { finishedAt: d.finishedAt } : {}),
        summary: d.summary ?? "",
        steps: d.steps,
        ...(p.state === "failed" ? failedRun(p) : {}),
      } as RunReport)
    : undefined;
  const annotations: Record<string, string> = {
    [REPOSITORY_ANNOTATION]: `${p.owner}/${p.repo}`,
    [STATE_ANNOTATION]: p.state,
    [ACCESS_ANNOTATION]: access,
    ...(p.url ? { [URL_ANNOTATION]: p.url } : {}),
    ...(p.title ? { [TITLE_ANNOTATION]: p.title } : {}),
    ...(p.sha ? { [SHA_ANNOTATION]: p.sha } : {}),
    ...(p.branch ? { [BRANCH_ANNOTATION]: p.branch } : {}),
    ...(p.expiresAt ? { [EXPIRES_ANNOTATION]: p.expiresAt } : {}),
    ...(hosts.length ? { [ACCESS_HOSTS_ANNOTATION]: hosts.join(",") } : {}),
    ...(nonce ? { [ACCESS_NONCE_ANNOTATION]: nonce } : {}),
    ...(run ? { [LAST_RUN_ANNOTATION]: run } : {}),
  };
  fake.seed({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: ownershipLabels(p.owner, p.repo, p.number),
      annotations,
      ...(p.createdAt ? { creationTimestamp: p.createdAt } : {}),
    },
    status: { phase: "Active" },
  });
  for (const log of logs) {
    if (!fake.get("v1", "Pod", namespace, log.pod))
      fake.seed({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: log.pod, namespace, labels: { app: log.container } },
        spec: { containers: [{ name: log.container, image: `ghcr.io/${p.owner}/${p.repo}-${log.container}:1` }] },
        status: {
          phase: "Running",
          containerStatuses: [{ name: log.container, ready: true, restartCount: 0, state: { running: {} } }],
        },
      });
    fake.setPodLog(namespace, log.pod, log.container, log.text);
  }
  return { namespace, ...(nonce ? { nonce } : {}) };
}
