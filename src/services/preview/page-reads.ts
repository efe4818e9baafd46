/**
 * What the preview page and the sign-in read, from the real records: the preview namespaces (their state, URL,
 * expiry and access annotations, the last run kept on them; cluster/directory.ts), the preview databases' marks, the
 * pods' recent logs (cluster/pod-logs.ts: size-capped and redacted) and the backup targets' catalog. No database of
 * the bot's own: every replica answers the same.
 *
 * `previewForHost` answers the gateways' check for every request to a preview, so its listing of the namespaces is
 * reused for a short while (default 5 s); a host not in it, or a bypass token that does not match, may read again
 * (`fresh`), at most once a second, so a preview just deployed (or its token just rotated) is known at once while a
 * flood of unknown hosts cannot turn into a flood of API requests. The pages reuse theirs for a second (many
 * visitors make one request a second, and a page is never more than a second behind the cluster). Bypass tokens are derived
 * here (shared/bypass-token.ts) and registered with the logger's redaction before they are handed out.
 */
import { registerSecret } from "../../logger.js";
import { summaryOf } from "../cluster/directory.js";
import type { PodLogReader } from "../cluster/pod-logs.js";
import type { BackupReads } from "../shared/dispatch.js";
import {
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
  LAST_RUN_ANNOTATION,
  MANAGED_BY,
} from "../shared/labels.js";
import { decodeLastRun } from "../shared/last-run.js";
import type {
  BackupTargetView,
  PageData,
  PagePreview,
  PreviewDetail,
  PreviewForHost,
  PreviewHost,
} from "../shared/page-data.js";
import type { Cluster, Databases } from "../shared/preview.js";

export interface PageReadsOptions {
  cluster: Pick<Cluster, "listNamespaces">;
  logs: PodLogReader;
  databases?: Pick<Databases, "list">;
  backups?: Pick<BackupReads, "overview">;
  /** A deploy's bypass token from its namespace and nonce (shared/bypass-token.ts with PREVIEW_AUTH_SECRET). */
  bypassToken(namespace: string, nonce: string): string;
  /** How long the host index's namespace listing is reused (default 5 s). */
  hostsTtlMs?: number;
  /** How long the pages' namespace and database listings are reused (default 1 s). */
  pagesTtlMs?: number;
  /** How long the backup targets' overview is reused (default 60 s: it lists blob storage). */
  backupsTtlMs?: number;
  now?: () => number;
}

export interface PageReads {
  data: PageData;
  previewForHost: PreviewForHost;
}

type Namespaces = Awaited<ReturnType<Cluster["listNamespaces"]>>;

/** One value, read at most once per `ttlMs` (concurrent readers share the read); `fresh` reads again after `minMs`. */
class Reused<T> {
  private value?: { at: number; v: T };
  private pending?: Promise<T>;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly minMs = 1_000,
  ) {}

  async get(fresh = false): Promise<T> {
    const age = this.value ? this.now() - this.value.at : Infinity;
    if (this.value && age < (fresh ? this.minMs : this.ttlMs)) return this.value.v;
    this.pending ??= this.read().then(
      (v) => {
        this.value = { at: this.now(), v };
        this.pending = undefined;
        return v;
      },
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
    return this.pending;
  }
}

export function createPageReads(o: PageReadsOptions): PageReads {
  const now = o.now ?? Date.now;
  const listAll = () => o.cluster.listNamespaces({ ...MANAGED_BY });
  const hostNamespaces = new Reused<Namespaces>(listAll, o.hostsTtlMs ?? 5_000, now);
  const namespaces = new Reused<Namespaces>(listAll, o.pagesTtlMs ?? 1_000, now);
  const databases = new Reused(async () => (o.databases ? o.databases.list() : []), o.pagesTtlMs ?? 1_000, now);
  const backups = new Reused<BackupTargetView[]>(
    async () => (o.backups?.overview ? o.backups.overview(new Date(now())) : []),
    o.backupsTtlMs ?? 60_000,
    now,
  );
  const tokens = new Map<string, string>();

  function token(namespace: string, nonce: string): string {
    const key = `${namespace}\n${nonce}`;
    let t = tokens.get(key);
    if (!t) {
      t = o.bypassToken(namespace, nonce);
      registerSecret(t);
      if (tokens.size > 10_000) tokens.clear();
      tokens.set(key, t);
    }
    return t;
  }

  // Built once per listing (decoding 200 last runs on every request cost the page more than rendering it); callers
  // filter and sort copies, never the array itself.
  let built: { list: Namespaces; dbs: unknown; out: PreviewDetail[] } | undefined;
  async function previews(): Promise<Array<PreviewDetail>> {
    const [list, dbs] = await Promise.all([namespaces.get(), databases.get()]);
    if (built?.list === list && built.dbs === dbs) return built.out;
    const dbOf = new Map(dbs.map((d) => [d.key, d.database]));
    const out: PreviewDetail[] = [];
    for (const ns of list) {
      const summary = summaryOf(ns);
      if (!summary) continue;
      const run = decodeLastRun(ns.annotations[LAST_RUN_ANNOTATION]);
      const database = dbOf.get(summary.key);
      out.push({
        ...summary,
        access: ns.annotations[ACCESS_ANNOTATION] === "github" ? "github" : "public",
        ...(ns.createdAt ? { createdAt: ns.createdAt } : {}),
        ...(database ? { database } : {}),
        ...(run?.kind === "deploy"
          ? {
              lastDeploy: {
                state: run.state,
                ...(run.trigger ? { trigger: run.trigger } : {}),
                startedAt: run.startedAt,
                ...(run.finishedAt ? { finishedAt: run.finishedAt, updatedAt: run.finishedAt } : {}),
                ...(run.summary ? { summary: run.summary } : {}),
                steps: run.steps,
              },
              ...(run.diagnosis ? { diagnosis: run.diagnosis } : {}),
              ...(run.workloads ? { workloads: run.workloads } : {}),
              ...(run.state === "failure" && run.summary ? { reason: run.summary } : {}),
            }
          : {}),
      });
    }
    built = { list, dbs, out };
    return out;
  }

  const same = (p: PagePreview, k: { owner: string; repo: string; number: number }) =>
    p.owner.toLowerCase() === k.owner.toLowerCase() &&
    p.repo.toLowerCase() === k.repo.toLowerCase() &&
    p.number === k.number;

  let indexed: { list: Namespaces; index: Map<string, PreviewHost | null> } | undefined;
  async function hostIndex(fresh: boolean): Promise<Map<string, PreviewHost | null>> {
    const list = await hostNamespaces.get(fresh);
    if (indexed?.list === list) return indexed.index;
    const index = new Map<string, PreviewHost | null>();
    for (const ns of list) {
      const summary = summaryOf(ns);
      if (!summary) continue;
      const access = ns.annotations[ACCESS_ANNOTATION] === "github" ? "github" : "public";
      const nonce = ns.annotations[ACCESS_NONCE_ANNOTATION];
      const hosts = (ns.annotations[ACCESS_HOSTS_ANNOTATION] ?? "").split(",").filter(Boolean);
      const entry: PreviewHost = {
        owner: summary.owner,
        repo: summary.repo,
        number: summary.number,
        access,
        ...(access === "github" && nonce ? { bypassToken: token(ns.name, nonce) } : {}),
      };
      // Two previews claiming one host answer for neither (null): never guess whose sign-in applies.
      for (const h of hosts) index.set(h.toLowerCase(), index.has(h.toLowerCase()) ? null : entry);
    }
    indexed = { list, index };
    return index;
  }

  return {
    data: {
      previews,
      async preview(key) {
        return (await previews()).find((p) => same(p, key));
      },
      async logs(key) {
        const p = (await previews()).find((x) => same(x, key));
        return p?.namespace ? o.logs.recent(p.namespace) : [];
      },
      backups: () => backups.get(),
    },
    async previewForHost(hostname, opts) {
      return (await hostIndex(opts?.fresh === true)).get(hostname.toLowerCase()) ?? undefined;
    },
  };
}
