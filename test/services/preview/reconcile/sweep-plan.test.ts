/** The sweep's pure plan (sweep-plan.ts), table-tested: what a sweep deploys, removes, warns about and leaves alone. */
import { describe, expect, it } from "@jest/globals";
import { EXPIRES_ANNOTATION, REPOSITORY_ANNOTATION, SHA_ANNOTATION } from "../../../../src/services/shared/labels.js";
import { ownershipLabels } from "../../../../src/services/preview/naming.js";
import type { OpenPull } from "../../../../src/services/github/open-pulls.js";
import {
  planSweep,
  type NamespaceFacts,
  type SweepInput,
} from "../../../../src/services/preview/reconcile/sweep-plan.js";

const NOW = Date.parse("2026-11-20T12:00:00Z");
const H = 3_600_000;
const sha = (c: string) => c.repeat(40);

function ns(
  name: string,
  key: string,
  opts: {
    sha?: string;
    expiresAt?: number;
    state?: string;
    phase?: string;
    labels?: Record<string, string>;
    repository?: string | null;
  } = {},
): NamespaceFacts {
  const [repository, number] = key.split("#") as [string, string];
  const [owner, repo] = repository.split("/") as [string, string];
  return {
    name,
    labels: opts.labels ?? ownershipLabels(owner, repo, Number(number)),
    annotations: {
      ...(opts.repository === null ? {} : { [REPOSITORY_ANNOTATION]: opts.repository ?? repository }),
      [SHA_ANNOTATION]: opts.sha ?? sha("a"),
      ...(opts.expiresAt !== undefined ? { [EXPIRES_ANNOTATION]: new Date(opts.expiresAt).toISOString() } : {}),
      ...(opts.state ? { "preview-bot.dev/state": opts.state } : {}),
    },
    phase: opts.phase ?? "Active",
  };
}
const pull = (number: number, s = sha("a"), extra: Partial<OpenPull> = {}): OpenPull => ({
  installationId: 7,
  owner: "acme",
  repo: "web",
  number,
  sha: s,
  ...extra,
});
const base = (over: Partial<SweepInput>): SweepInput => ({
  open: [],
  namespaces: [],
  databases: [],
  now: NOW,
  ...over,
});
const summary = (input: SweepInput) => {
  const p = planSweep(input);
  return {
    deploy: p.deploy.map((d) => `${d.key}:${d.reason}`),
    destroy: p.destroy.map((d) => `${d.key}:${d.reason}:${[...d.namespaces, ...d.databases, ...d.roles].join("+")}`),
    headsUp: p.headsUp.map((h) => h.key),
    skipped: p.skipped.map((s) => s.what),
  };
};
const none = { deploy: [], destroy: [], headsUp: [], skipped: [] };

describe("planSweep", () => {
  it.each([
    [
      "an open PR without a preview is deployed",
      base({ open: [pull(1)] }),
      { ...none, deploy: ["acme/web#1:missing"] },
    ],
    [
      "an open PR whose preview is at an older commit is redeployed",
      base({ open: [pull(1, sha("b"))], namespaces: [ns("web-pr-1", "acme/web#1")] }),
      { ...none, deploy: ["acme/web#1:stale"] },
    ],
    [
      "an up-to-date preview is left alone",
      base({ open: [pull(1)], namespaces: [ns("web-pr-1", "acme/web#1", { state: "ready" })] }),
      none,
    ],
    [
      "a failed or interrupted deploy is retried",
      base({ open: [pull(1)], namespaces: [ns("web-pr-1", "acme/web#1", { state: "failed" })] }),
      { ...none, deploy: ["acme/web#1:failed"] },
    ],
    [
      "the preview of a closed PR is removed, namespace and database",
      base({ namespaces: [ns("web-pr-2", "acme/web#2")], databases: [{ database: "web_pr_2", key: "acme/web#2" }] }),
      { ...none, destroy: ["acme/web#2:closed:web-pr-2+web_pr_2"] },
    ],
    [
      "an orphan database alone is removed",
      base({ databases: [{ database: "web_pr_3", key: "acme/web#3" }] }),
      { ...none, destroy: ["acme/web#3:closed:web_pr_3"] },
    ],
    [
      "a database of an open PR without namespace is kept, and the preview deployed",
      base({ open: [pull(4)], databases: [{ database: "web_pr_4", key: "acme/web#4" }] }),
      { ...none, deploy: ["acme/web#4:missing"] },
    ],
    [
      "an expired preview of an open PR is removed, not redeployed",
      base({ open: [pull(5)], namespaces: [ns("web-pr-5", "acme/web#5", { expiresAt: NOW - 1 })] }),
      { ...none, destroy: ["acme/web#5:expired:web-pr-5"] },
    ],
    [
      "a preview expiring within 10 % of its TTL gets a heads-up",
      base({
        open: [pull(6, sha("a"), { ttlMs: 10 * H })],
        namespaces: [ns("web-pr-6", "acme/web#6", { expiresAt: NOW + 0.5 * H })],
      }),
      { ...none, headsUp: ["acme/web#6"] },
    ],
    [
      "a preview expiring later gets none",
      base({
        open: [pull(6, sha("a"), { ttlMs: 10 * H })],
        namespaces: [ns("web-pr-6", "acme/web#6", { expiresAt: NOW + 2 * H })],
      }),
      none,
    ],
    [
      "a namespace without our label is invisible",
      base({ namespaces: [ns("someone-else", "acme/web#9", { labels: { team: "data" } })] }),
      none,
    ],
    [
      "a protected namespace is skipped even with our label",
      base({ namespaces: [ns("kube-system", "acme/web#9")], protectedNamespaces: ["prod"] }),
      { ...none, skipped: ["namespace kube-system"] },
    ],
    [
      "our label without a repository annotation is left for a person",
      base({ namespaces: [ns("odd", "acme/web#9", { repository: null })] }),
      { ...none, skipped: ["namespace odd"] },
    ],
    [
      "a preview expired at this commit is not brought back",
      base({ open: [pull(7)], expired: new Set([`acme/web#7@${sha("a")}`]) }),
      { ...none, skipped: ["acme/web#7"] },
    ],
    [
      "…until the PR moves to a new commit",
      base({ open: [pull(7, sha("c"))], expired: new Set([`acme/web#7@${sha("a")}`]) }),
      { ...none, deploy: ["acme/web#7:missing"] },
    ],
    [
      "an open PR whose namespace is terminating waits for the next sweep",
      base({ open: [pull(8)], namespaces: [ns("web-pr-8", "acme/web#8", { phase: "Terminating" })] }),
      { ...none, skipped: ["acme/web#8"] },
    ],
    [
      "a preview with a job queued or running is left to it, even when it looks missing",
      base({ open: [pull(10)], busy: new Set(["acme/web#10"]) }),
      { ...none, skipped: ["acme/web#10"] },
    ],
    [
      "…or interrupted",
      base({
        open: [pull(10)],
        namespaces: [ns("web-pr-10", "acme/web#10", { state: "deploying" })],
        busy: new Set(["acme/web#10"]),
      }),
      { ...none, skipped: ["acme/web#10"] },
    ],
    [
      "…or closed",
      base({ namespaces: [ns("web-pr-11", "acme/web#11")], busy: new Set(["acme/web#11"]) }),
      { ...none, skipped: ["acme/web#11"] },
    ],
    [
      "a repository no longer enrolled (or archived) loses its namespaces but keeps its databases",
      base({
        namespaces: [ns("api-pr-1", "acme/api#1")],
        databases: [
          { database: "api_pr_1", key: "acme/api#1" },
          { database: "api_pr_2", key: "acme/api#2" },
        ],
        enrolled: new Set(["acme/web"]),
        held: new Map([["acme/api", "is archived"]]),
      }),
      { ...none, destroy: ["acme/api#1:not enrolled:api-pr-1"], skipped: ["database api_pr_1", "database api_pr_2"] },
    ],
    [
      "a closed PR of an enrolled repository is removed whole",
      base({
        namespaces: [ns("web-pr-2", "acme/web#2")],
        databases: [{ database: "web_pr_2", key: "acme/web#2" }],
        enrolled: new Set(["acme/web"]),
      }),
      { ...none, destroy: ["acme/web#2:closed:web-pr-2+web_pr_2"] },
    ],
    [
      "a leftover role of a closed PR (ours, owning no database) is removed with what else is left",
      base({
        namespaces: [ns("web-pr-2", "acme/web#2")],
        roles: [
          { role: "web_pr_2_app", key: "acme/web#2" },
          { role: "web_pr_3_app", key: "acme/web#3" },
        ],
      }),
      { ...none, destroy: ["acme/web#2:closed:web-pr-2+web_pr_2_app", "acme/web#3:closed:web_pr_3_app"] },
    ],
    [
      "a leftover role of a live preview (its PR open) is never removed: the next provision adopts it",
      base({
        open: [pull(4)],
        namespaces: [ns("web-pr-4", "acme/web#4", { state: "ready" })],
        roles: [{ role: "web_pr_4_app", key: "acme/web#4" }],
      }),
      none,
    ],
    [
      "a leftover role whose preview has a job queued or running is left to that job",
      base({ roles: [{ role: "web_pr_5_app", key: "acme/web#5" }], busy: new Set(["acme/web#5"]) }),
      { ...none, skipped: ["acme/web#5"] },
    ],
    [
      "a leftover role of a repository not enrolled is kept, and said so; one with an unreadable mark is left alone",
      base({
        roles: [
          { role: "api_pr_1_app", key: "acme/api#1" },
          { role: "odd_app", key: "not a key" },
        ],
        enrolled: new Set(["acme/web"]),
      }),
      { ...none, skipped: ["role odd_app", "role api_pr_1_app"] },
    ],
  ])("%s", (_name, input, expected) => {
    expect(summary(input)).toEqual(expected);
  });
});

describe("planSweep: idle previews go to sleep", () => {
  const sleepy = (name: string, annotations: Record<string, string>, state = "ready"): NamespaceFacts => {
    const n = ns(name, "acme/web#5", { state });
    return { ...n, annotations: { ...n.annotations, ...annotations } };
  };
  const idleFor = (ms: number) => new Date(NOW - ms).toISOString();
  const sleeps = (n: NamespaceFacts) =>
    planSweep(base({ open: [pull(5)], namespaces: [n] })).sleep.map((s) => `${s.key}:${s.namespaces.join("+")}`);

  it.each([
    [
      "idle past its sleep-after",
      { "preview-bot.dev/sleep-after": "1h", "preview-bot.dev/last-activity": idleFor(61 * 60_000) },
      "ready",
      ["acme/web#5:web-pr-5"],
    ],
    [
      "idle exactly its sleep-after",
      { "preview-bot.dev/sleep-after": "1h", "preview-bot.dev/last-activity": idleFor(H) },
      "ready",
      ["acme/web#5:web-pr-5"],
    ],
    [
      "used within its sleep-after",
      { "preview-bot.dev/sleep-after": "1h", "preview-bot.dev/last-activity": idleFor(59 * 60_000) },
      "ready",
      [],
    ],
    ["without a sleep-after (never sleeps)", { "preview-bot.dev/last-activity": idleFor(100 * H) }, "ready", []],
    [
      "already asleep",
      {
        "preview-bot.dev/sleep-after": "1h",
        "preview-bot.dev/last-activity": idleFor(3 * H),
        "preview-bot.dev/asleep-since": idleFor(H),
      },
      "ready",
      [],
    ],
    [
      "failed (left to the repair deploy)",
      { "preview-bot.dev/sleep-after": "1h", "preview-bot.dev/last-activity": idleFor(3 * H) },
      "failed",
      [],
    ],
  ])("%s", (_name, annotations, state, expected) => {
    expect(sleeps(sleepy("web-pr-5", annotations, state))).toEqual(expected);
  });

  it("says since when it is idle, and leaves a busy preview alone", () => {
    const n = sleepy("web-pr-5", {
      "preview-bot.dev/sleep-after": "30m",
      "preview-bot.dev/last-activity": idleFor(2 * H),
    });
    expect(planSweep(base({ open: [pull(5)], namespaces: [n] })).sleep[0]).toMatchObject({
      installationId: 7,
      idleSince: idleFor(2 * H),
    });
    expect(planSweep(base({ open: [pull(5)], namespaces: [n], busy: new Set(["acme/web#5"]) })).sleep).toEqual([]);
  });
});

describe("planSweep: sleep gives way to removal", () => {
  const idle = {
    "preview-bot.dev/sleep-after": "1h",
    "preview-bot.dev/last-activity": new Date(NOW - 3 * H).toISOString(),
  };
  const withIdle = (n: NamespaceFacts): NamespaceFacts => ({ ...n, annotations: { ...n.annotations, ...idle } });

  it("a closed PR's idle preview is removed, not put to sleep", () => {
    const p = planSweep(base({ open: [], namespaces: [withIdle(ns("web-pr-5", "acme/web#5", { state: "ready" }))] }));
    expect(p.sleep).toEqual([]);
    expect(p.destroy.map((d) => `${d.key}:${d.reason}`)).toEqual(["acme/web#5:closed"]);
  });

  it("an expired idle preview is removed, not put to sleep", () => {
    const n = withIdle(ns("web-pr-5", "acme/web#5", { state: "ready", expiresAt: NOW - 1 }));
    const p = planSweep(base({ open: [pull(5)], namespaces: [n] }));
    expect(p.sleep).toEqual([]);
    expect(p.destroy.map((d) => `${d.key}:${d.reason}`)).toEqual(["acme/web#5:expired"]);
  });

  it("a terminating namespace is not put to sleep; of two namespaces only the idle one is", () => {
    const terminating = withIdle(ns("web-pr-5", "acme/web#5", { state: "ready", phase: "Terminating" }));
    expect(planSweep(base({ open: [pull(5)], namespaces: [terminating] })).sleep).toEqual([]);
    const busy = ns("web-pr-5-api", "acme/web#5", { state: "ready" });
    busy.annotations = {
      ...busy.annotations,
      "preview-bot.dev/sleep-after": "1h",
      "preview-bot.dev/last-activity": new Date(NOW - 10 * 60_000).toISOString(),
    };
    const p = planSweep(
      base({ open: [pull(5)], namespaces: [withIdle(ns("web-pr-5", "acme/web#5", { state: "ready" })), busy] }),
    );
    expect(p.sleep).toEqual([
      expect.objectContaining({
        key: "acme/web#5",
        namespaces: ["web-pr-5"],
        idleSince: new Date(NOW - 3 * H).toISOString(),
      }),
    ]);
  });
});
