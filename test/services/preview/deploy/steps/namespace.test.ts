/**
 * The Namespace step's decisions, against a fake Cluster (test/support/runner-fakes.ts): refusing a protected
 * namespace or one another preview owns, the labels (the repository's, then ownership, then Pod Security, so nothing
 * overrides the bot's), the annotations (state, title, URL, expiry — never earlier than an `/preview extend`; who may
 * open the preview, its hosts and this deploy's bypass nonce), and its detail line. What ensureNamespace does on a cluster is tested against the real control plane (test/services/cluster/).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { namespaceStep } from "../../../../../src/services/preview/deploy/steps/namespace.js";
import type { PreviewSleepDeps } from "../../../../../src/services/preview/context.js";
import { createSleepCommands } from "../../../../../src/services/preview/sleep/sleep-commands.js";
import type { SleepControl } from "../../../../../src/services/shared/sleep.js";
import { ownershipLabels } from "../../../../../src/services/preview/naming.js";
import {
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
  EXPIRES_ANNOTATION,
  MANAGED_BY,
  REPOSITORY_ANNOTATION,
  STATE_ANNOTATION,
  TITLE_ANNOTATION,
  URL_ANNOTATION,
} from "../../../../../src/services/shared/labels.js";
import {
  stepBench,
  type ListedNamespace,
  type StepBench,
  type StepBenchOptions,
} from "../../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

async function bench(opts: StepBenchOptions = {}): Promise<StepBench> {
  const b = await stepBench(opts);
  benches.push(b);
  return b;
}

const run = (b: StepBench) => namespaceStep.run(b.ctx, b.detail);
const ensured = (b: StepBench) => {
  const calls = b.cluster.calls.filter((c) => c.method === "ensureNamespace");
  expect(calls).toHaveLength(1);
  const [name, labels, annotations] = calls[0]!.args as [string, Record<string, string>, Record<string, string>];
  return { name, labels, annotations };
};

const PSA = (enforce: string) => ({
  "pod-security.kubernetes.io/enforce": enforce,
  "pod-security.kubernetes.io/enforce-version": "latest",
  "pod-security.kubernetes.io/warn": "restricted",
  "pod-security.kubernetes.io/warn-version": "latest",
  "pod-security.kubernetes.io/audit": "restricted",
  "pod-security.kubernetes.io/audit-version": "latest",
});

describe("the Namespace step", () => {
  it("always runs (no skip)", () => {
    expect(namespaceStep).not.toHaveProperty("skip");
  });

  it("creates the namespace with the repository's labels, then ownership, then Pod Security, and says which level", async () => {
    const b = await bench({
      config: {
        route: { host: "{name}.previews.example.com" },
        namespace: { labels: { team: "shop", "gateway-access": "true" }, annotations: { "example.com/owner": "shop" } },
      },
    });
    await run(b);
    const { names, pull } = b.ctx;
    expect(b.cluster.methods()).toEqual(["listNamespaces", "ensureNamespace"]);
    expect(b.cluster.calls[0]!.args).toEqual([{ ...MANAGED_BY }]);
    const { name, labels, annotations } = ensured(b);
    expect(name).toBe(names.namespace);
    expect(labels).toEqual({ team: "shop", "gateway-access": "true", ...names.labels, ...PSA("baseline") });
    expect(annotations).toEqual({
      "example.com/owner": "shop",
      ...names.annotations,
      [STATE_ANNOTATION]: "deploying",
      [TITLE_ANNOTATION]: pull.title,
      [URL_ANNOTATION]: names.url,
      "preview-bot.dev/installation": "1",
      "preview-bot.dev/last-activity": expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      [ACCESS_ANNOTATION]: "public",
      // Whose preview it is, for the per-author cap.
      "preview-bot.dev/author": pull.author,
    });
    expect(annotations).not.toHaveProperty(EXPIRES_ANNOTATION);
    expect(annotations).not.toHaveProperty("preview-bot.dev/sleep-after");
    expect(b.details).toEqual([`${names.namespace} (Pod Security: enforce baseline, warn and audit restricted)`]);
  });

  it("records who may open the preview: a private repository's preview asks for sign-in, with its hosts and this deploy's nonce", async () => {
    const b = await bench({ pull: { private: true } });
    b.ctx.access.hosts = ["web-pr-42.previews.example.com", "api.web-pr-42.previews.example.com"];
    await run(b);
    expect(ensured(b).annotations).toMatchObject({
      [ACCESS_ANNOTATION]: "github",
      [ACCESS_HOSTS_ANNOTATION]: "web-pr-42.previews.example.com,api.web-pr-42.previews.example.com",
      [ACCESS_NONCE_ANNOTATION]: b.ctx.access.nonce,
    });
    // A public preview keeps no nonce: nothing may derive a bypass token for it.
    const open = await bench({ config: { access: "public" }, pull: { private: true } });
    await run(open);
    expect(ensured(open).annotations[ACCESS_ANNOTATION]).toBe("public");
    expect(ensured(open).annotations).not.toHaveProperty(ACCESS_NONCE_ANNOTATION);
  });

  it("enforces the repository's stricter Pod Security level, and leaves out a URL the preview does not have", async () => {
    const b = await bench({ config: { guardrails: { podSecurity: "restricted" } } });
    await run(b);
    const { labels, annotations } = ensured(b);
    expect(labels).toMatchObject(PSA("restricted"));
    expect(annotations).not.toHaveProperty(URL_ANNOTATION);
    expect(b.details[0]).toContain("enforce restricted");
  });

  it("lets no annotation of the repository's override the bot's own", async () => {
    const b = await bench({
      config: {
        namespace: {
          annotations: { [STATE_ANNOTATION]: "ready", [REPOSITORY_ANNOTATION]: "evil/repo", [TITLE_ANNOTATION]: "x" },
        },
      },
    });
    await run(b);
    expect(ensured(b).annotations).toMatchObject({
      [STATE_ANNOTATION]: "deploying",
      [REPOSITORY_ANNOTATION]: "acme/web",
      [TITLE_ANNOTATION]: b.ctx.pull.title,
    });
  });

  it("cuts the pull request's title to 200 characters", async () => {
    const b = await bench({ pull: { title: "t".repeat(250) } });
    await run(b);
    expect(ensured(b).annotations[TITLE_ANNOTATION]).toBe("t".repeat(200));
  });

  it("refuses a namespace the repository protects, before asking the cluster anything", async () => {
    const b = await bench({ config: { protectedNamespaces: ["web-pr-42"] } });
    expect(b.ctx.names.namespace).toBe("web-pr-42");
    await expect(run(b)).rejects.toThrow(
      'namespace "web-pr-42" is protected (protectedNamespaces in .github/preview.yml); choose a names.namespace pattern that does not produce it',
    );
    expect(b.cluster.calls).toEqual([]);
  });

  it("refuses a namespace that belongs to another preview (another pull request, or another repository), naming it", async () => {
    for (const [repo, pr] of [
      ["web", 7],
      ["shop", 42],
    ] as const) {
      const b = await bench();
      b.cluster.namespaces = [
        {
          name: b.ctx.names.namespace,
          labels: ownershipLabels("acme", repo, pr),
          annotations: { [REPOSITORY_ANNOTATION]: `acme/${repo}` },
          phase: "Active",
        },
      ];
      await expect(run(b)).rejects.toThrow(
        `namespace "web-pr-42" already belongs to another preview (acme/${repo}#${pr}); use a names.namespace pattern with {number} or {repo} so each pull request gets its own`,
      );
      expect(b.cluster.methods()).toEqual(["listNamespaces"]);
    }
  });

  it("updates its own namespace, keeping an expiry that `/preview extend` set later than the TTL's", async () => {
    const ttlExpiry = "2026-12-10T00:00:00.000Z";
    const own = (b: StepBench, expires: string): ListedNamespace[] => [
      {
        name: b.ctx.names.namespace,
        labels: { ...b.ctx.names.labels },
        annotations: { [EXPIRES_ANNOTATION]: expires },
        phase: "Active",
      },
      { name: "other-pr-1", labels: { ...MANAGED_BY }, annotations: {}, phase: "Active" },
    ];

    const extended = await bench({ expiresAt: ttlExpiry });
    extended.cluster.namespaces = own(extended, "2026-12-20T00:00:00.000Z");
    await run(extended);
    expect(extended.ctx.report.expiresAt).toBe("2026-12-20T00:00:00.000Z");
    expect(ensured(extended).annotations[EXPIRES_ANNOTATION]).toBe("2026-12-20T00:00:00.000Z");

    const earlier = await bench({ expiresAt: ttlExpiry });
    earlier.cluster.namespaces = own(earlier, "2026-12-01T00:00:00.000Z");
    await run(earlier);
    expect(earlier.ctx.report.expiresAt).toBe(ttlExpiry);
    expect(ensured(earlier).annotations[EXPIRES_ANNOTATION]).toBe(ttlExpiry);

    // Without a TTL the run sets no expiry, whatever the namespace carries.
    const noTtl = await bench();
    noTtl.cluster.namespaces = own(noTtl, "2026-12-20T00:00:00.000Z");
    await run(noTtl);
    expect(noTtl.ctx.report.expiresAt).toBeUndefined();
    expect(ensured(noTtl).annotations).not.toHaveProperty(EXPIRES_ANNOTATION);
  });

  it("passes the cluster's refusal on", async () => {
    const b = await bench();
    const refusal = new Error('namespace "web-pr-42" exists and is not managed by preview-bot');
    b.cluster.ensureNamespace = async () => Promise.reject(refusal);
    await expect(run(b)).rejects.toBe(refusal);
  });
});

/** A SleepControl that records what the step asks of it (the Kubernetes side is tested in test/services/cluster/). */
function sleepDeps(defaultAfterMs?: number): PreviewSleepDeps & { asked: string[] } {
  const asked: string[] = [];
  const control: SleepControl = {
    sleep: async (ns) => {
      asked.push(`sleep ${ns}`);
      return { workloads: [], autoscalers: [], cronJobs: [], routes: [], hosts: [] };
    },
    restoreWorkloads: async (ns) => {
      asked.push(`restoreWorkloads ${ns}`);
      return { workloads: ['Deployment "web"'], autoscalers: [], cronJobs: [] };
    },
    restoreRoutes: async (ns) => {
      asked.push(`restoreRoutes ${ns}`);
      return { routes: ['HTTPRoute "web"'] };
    },
    forget: async () => [],
    requests: async () => [],
    waitAwake: async (ns, timeoutMs) => {
      asked.push(`waitAwake ${ns} ${timeoutMs}`);
      return true;
    },
  };
  return {
    control,
    ...(defaultAfterMs !== undefined ? { defaultAfterMs } : {}),
    wakeTimeoutMs: 300_000,
    cost: { currency: "USD" },
    asked,
  };
}

describe("the Namespace step and sleep", () => {
  const H = 3_600_000;
  const sleepAfter = async (config: Record<string, unknown>, sleep?: PreviewSleepDeps) => {
    const b = await bench({ config, ...(sleep ? { deps: { sleep } } : {}) });
    await run(b);
    return ensured(b).annotations["preview-bot.dev/sleep-after"];
  };

  it("records when the preview sleeps: the repository's sleep.after within the bot's, only on a bot that can sleep", async () => {
    expect(await sleepAfter({ sleep: { after: "30m" } }, sleepDeps(2 * H))).toBe("30m");
    expect(await sleepAfter({ sleep: { after: "5h" } }, sleepDeps(2 * H))).toBe("2h");
    expect(await sleepAfter({}, sleepDeps(2 * H))).toBe("2h");
    expect(await sleepAfter({ sleep: { after: "never" } }, sleepDeps(90 * 60_000))).toBe("90m");
    expect(await sleepAfter({ sleep: { after: "never" } }, sleepDeps())).toBeUndefined();
    expect(await sleepAfter({ sleep: { after: "45m" } }, sleepDeps())).toBe("45m");
    // No PREVIEW_BOT_SERVICE and no bot namespace: nothing sleeps, so nothing says it will.
    expect(await sleepAfter({ sleep: { after: "30m" } })).toBeUndefined();
  });

  it("a deploy wakes a sleeping preview before it applies: workloads, then routes, without waiting for readiness", async () => {
    const sleep = sleepDeps(H);
    const b = await bench({ deps: { sleep } });
    b.cluster.namespaces = [
      {
        name: b.ctx.names.namespace,
        labels: { ...b.ctx.names.labels },
        annotations: {
          "preview-bot.dev/asleep-since": "2026-12-01T10:00:00.000Z",
          "preview-bot.dev/asleep-ms": "1000",
          "preview-bot.dev/wake-hosts": "web-pr-42.previews.example.com",
        },
        phase: "Active",
      },
    ];
    await run(b);
    const ns = b.ctx.names.namespace;
    expect(sleep.asked).toEqual([`restoreWorkloads ${ns}`, `waitAwake ${ns} 0`, `restoreRoutes ${ns}`]);
    expect(b.cluster.methods()).toEqual(["listNamespaces", "ensureNamespace", "annotateNamespace"]);
    const [name, annotations] = b.cluster.calls[2]!.args as [string, Record<string, string | null>];
    expect(name).toBe(ns);
    expect(annotations).toMatchObject({
      "preview-bot.dev/asleep-since": null,
      "preview-bot.dev/wake-hosts": null,
    });
    expect(Number(annotations["preview-bot.dev/asleep-ms"])).toBeGreaterThan(1000);
  });

  it("an awake preview's deploy asks the sleep for nothing", async () => {
    const sleep = sleepDeps(H);
    const b = await bench({ deps: { sleep } });
    b.cluster.namespaces = [
      {
        name: b.ctx.names.namespace,
        labels: { ...b.ctx.names.labels },
        annotations: { "preview-bot.dev/sleep-after": "1h" },
        phase: "Active",
      },
    ];
    await run(b);
    expect(sleep.asked).toEqual([]);
    expect(b.cluster.methods()).toEqual(["listNamespaces", "ensureNamespace"]);
  });

  it("on a bot that cannot sleep, the sweeper's sleep does nothing and says nothing; a person is told why", async () => {
    const b = await bench();
    const commands = createSleepCommands(b.ctx.deps);
    await commands.sleep({ ...b.ctx.job, action: "sleep", source: "sweeper" });
    await commands.wake({ ...b.ctx.job, action: "wake", source: "visitor" });
    expect(b.cluster.calls).toEqual([]);
    // A person's command is answered on the pull request: the only part it reaches is GitHub.
    await expect(
      commands.sleep({ ...b.ctx.job, action: "sleep", source: "comment", actor: "octocat" }),
    ).rejects.toThrow("github.octokitFor was used");
  });
});
