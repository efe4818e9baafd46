/**
 * Realistic data for the preview page (tests, screenshots, the bench): several organisations and repositories,
 * previews in every state, deploys with real step names and timings, a failed roll-out with its diagnosis, logs
 * with a canary secret in them. An in-memory `PageData` serves it (the door's own tests); the page's end-to-end tests
 * and the bench write the previews into a cluster instead (page-cluster.ts) and read them through the whole bot.
 */
import type {
  BackupTargetView,
  PageData,
  PagePreview,
  PodLog,
  PreviewDetail,
  PreviewKeyParts,
} from "../../src/services/shared/page-data.js";
import type { StepRecord } from "../../src/services/shared/run-report.js";

/** A database password that shows up in a preview's logs: registered with the logger, it must never reach a page. */
export const CANARY = "s3cr3t-canary-9f2c41d7e8";

const REPOS: Array<{ owner: string; repo: string; private: boolean; titles: string[] }> = [
  {
    owner: "acme",
    repo: "web",
    private: true,
    titles: ["Checkout: one-page flow", "Fix cart rounding for JPY", "Dark mode for the account area"],
  },
  {
    owner: "acme",
    repo: "api",
    private: true,
    titles: ["Rate limits per API key", "Orders: cursor pagination", "Upgrade to PostgreSQL 17"],
  },
  { owner: "acme", repo: "mobile-bff", private: true, titles: ["Push tokens for Android 15"] },
  { owner: "globex", repo: "shop", private: false, titles: ["Product reviews with photos", "Search suggestions"] },
  { owner: "globex", repo: "docs", private: false, titles: ["Docs: self-hosting guide"] },
  { owner: "initech", repo: "payroll", private: true, titles: ["Overtime rules for 2027", "TPS report export"] },
  { owner: "umbrella", repo: "lab-portal", private: true, titles: ["Sample tracking v2"] },
  { owner: "hooli", repo: "nucleus", private: true, titles: ["Middle-out compression", "Faster thumbnails"] },
];

export const SAMPLE_REPOS = REPOS.map((r) => ({ full: `${r.owner}/${r.repo}`, private: r.private }));

const STEPS: Array<[string, number]> = [
  ["Fetch source", 900],
  ["Render manifests", 1400],
  ["Guardrails", 300],
  ["Namespace", 250],
  ["Database", 2100],
  ["Apply", 1800],
  ["Roll out", 24_000],
  ["Health checks", 3200],
];

function sha(i: number): string {
  let h = 2166136261 ^ i;
  let out = "";
  while (out.length < 40) {
    h = Math.imul(h ^ (h >>> 13), 16777619) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out.slice(0, 40);
}

const iso = (t: number) => new Date(t).toISOString();

/** `count` previews across the sample repositories, as of `now`; hosts under `domain`. */
export function samplePreviews(now: number, count = 16, domain = "previews.acme.dev"): PagePreview[] {
  const out: PagePreview[] = [];
  const states: PagePreview["state"][] = ["ready", "ready", "ready", "failed", "deploying", "ready", "queued", "ready"];
  for (let i = 0; i < count; i++) {
    const r = REPOS[i % REPOS.length]!;
    const number = 40 + i * 7 + (i % 3);
    const state = states[i % states.length]!;
    const started = now - (i % 5) * 3_600_000 - 20 * 60_000 - i * 61_000;
    const failedAt = state === "failed" ? 6 : -1;
    const steps: StepRecord[] = STEPS.map(([name, ms], j) => {
      const status: StepRecord["status"] =
        state === "deploying"
          ? j < 5
            ? "success"
            : j === 5
              ? "running"
              : "pending"
          : state === "queued"
            ? "pending"
            : j === failedAt
              ? "failure"
              : j > failedAt && failedAt >= 0
                ? "skipped"
                : "success";
      const at = started + STEPS.slice(0, j).reduce((s, x) => s + x[1], 0);
      return {
        name,
        status,
        ...(status === "success" || status === "failure"
          ? { startedAt: iso(at), durationMs: Math.round(ms * (0.7 + ((i * 7 + j) % 6) / 10)) }
          : {}),
        ...(name === "Apply" && status === "success" ? { detail: `${9 + (i % 4)} objects applied` } : {}),
        ...(status === "failure" ? { detail: "web 0/1 ready: ImagePullBackOff" } : {}),
      };
    });
    const host = `${r.repo}-pr-${number}.${domain}`;
    out.push({
      key: `${r.owner}/${r.repo}#${number}`,
      owner: r.owner,
      repo: r.repo,
      number,
      title: r.titles[i % r.titles.length]!,
      branch: `feature/${r.titles[i % r.titles.length]!.toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, "")}`,
      sha: sha(i),
      state,
      url: `https://${host}/`,
      namespace: `preview-${r.repo}-pr-${number}`,
      database: i % 4 === 3 ? undefined : `preview_${r.repo.replace(/-/g, "_")}_pr_${number}`,
      createdAt: iso(now - (i + 1) * 26 * 3_600_000),
      updatedAt: iso(started),
      expiresAt: iso(now + ((i % 6) + 1) * 24 * 3_600_000),
      ...(state === "failed" ? { reason: "Roll-out failed: web 0/1 ready: ImagePullBackOff" } : {}),
      prUrl: `https://github.com/${r.owner}/${r.repo}/pull/${number}`,
      access: r.private ? "github" : "public",
      lastDeploy: {
        state:
          state === "failed"
            ? "failure"
            : state === "deploying"
              ? "in_progress"
              : state === "queued"
                ? "queued"
                : "success",
        trigger: i % 3 === 0 ? "push by @octocat" : i % 3 === 1 ? "/preview deploy by @hubot" : "sweeper",
        startedAt: iso(started),
        ...(state === "ready" || state === "failed" ? { finishedAt: iso(started + 33_950 + i * 100) } : {}),
        summary:
          state === "failed"
            ? "Roll-out failed: web 0/1 ready: ImagePullBackOff"
            : state === "ready"
              ? `Preview ready at https://${host}/`
              : "Deploying",
        steps,
      },
      ...(i % 5 === 2
        ? { sleep: { asleep: true, since: iso(now - 50 * 60_000) } }
        : i % 5 === 4
          ? { sleep: { asleep: false, since: iso(now - 5 * 60_000) } }
          : {}),
    });
  }
  return out;
}

export function sampleLogs(p: PreviewKeyParts): PodLog[] {
  const t = "2026-12-07T09:1";
  return [
    {
      pod: `web-7d9f8c6b5-x2k4p`,
      container: "web",
      text: [
        `${t}0:02.114Z info  listening on :8080 (${p.owner}/${p.repo}#${p.number})`,
        `${t}0:02.530Z info  connected to postgres://app:${CANARY}@db.preview.svc:5432/app`,
        `${t}0:03.002Z warn  DATABASE_PASSWORD=${CANARY} read from the environment`,
        `${t}1:15.410Z info  GET /healthz 200 1.2ms`,
        `${t}1:15.920Z info  GET / 200 18.4ms`,
        `${t}2:44.001Z error upstream inventory-api timed out after 5000ms`,
      ].join("\n"),
    },
    {
      pod: `worker-5c7b9d8f4-q8m2z`,
      container: "worker",
      text: `${t}0:05.000Z info  worker started, 4 queues\n${t}0:05.100Z info  token=${CANARY}\n${t}3:00.000Z info  job sync-prices done in 412ms`,
    },
  ];
}

export class MemoryPageData implements PageData {
  constructor(
    readonly list: PagePreview[],
    readonly targets: BackupTargetView[] = [],
    readonly logsFor: (k: PreviewKeyParts) => PodLog[] = sampleLogs,
  ) {}

  async previews(): Promise<PagePreview[]> {
    return this.list;
  }

  async preview(k: PreviewKeyParts): Promise<PreviewDetail | undefined> {
    const p = this.list.find((x) => x.owner === k.owner && x.repo === k.repo && x.number === k.number);
    if (!p) return undefined;
    if (p.state !== "failed")
      return { ...p, workloads: [{ kind: "Deployment", name: "web", ready: true, summary: "2/2 ready" }] };
    return {
      ...p,
      workloads: [
        { kind: "Deployment", name: "web", ready: false, summary: "0/1 ready: ImagePullBackOff" },
        { kind: "Deployment", name: "worker", ready: true, summary: "1/1 ready" },
      ],
      diagnosis: [
        `Pod web-7d9f8c6b5-x2k4p: Pending`,
        `  container web: waiting: ImagePullBackOff: Back-off pulling image "ghcr.io/${p.owner}/${p.repo}:${p.sha?.slice(0, 7)}"`,
        `  event Failed (x4): Failed to pull image: ghcr.io/${p.owner}/${p.repo}:${p.sha?.slice(0, 7)}: not found`,
        `  event BackOff (x12): Back-off pulling image`,
        `  init container migrate: DATABASE_URL=postgres://app:${CANARY}@db:5432/app`,
      ].join("\n"),
    };
  }

  async logs(k: PreviewKeyParts): Promise<PodLog[]> {
    return this.logsFor(k);
  }

  async backups(): Promise<BackupTargetView[]> {
    return this.targets;
  }
}
