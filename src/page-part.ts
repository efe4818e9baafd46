/**
 * The preview page and the GitHub sign-in in front of previews, as one part of the composition root (deps.ts): from the
 * settings (handlers/page/settings.ts decides whether they add up), the door that serves /previews and /auth/*, what
 * it reads (services/preview/page-reads.ts: namespaces, databases, pod logs, backups), and what the deploy needs from
 * it: how the render protects `access: github` previews (or why it cannot), the page's URL of a preview for the
 * sticky comment and Slack, each deploy's bypass token, and the ReferenceGrants Gateway API previews need in the
 * bot's namespace. Off (settings missing or conflicting): no door, and the reason, which the render gives for every
 * protected preview it refuses. Building opens nothing.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Env } from "./env.js";
import { createPageListener } from "./handlers/page/router.js";
import { accessSettingsOf, pageSetup, type PageSettings } from "./handlers/page/settings.js";
import type { Logger } from "./logger.js";
import { createAccessGrants } from "./services/cluster/access-grants.js";
import { createPodLogReader } from "./services/cluster/pod-logs.js";
import type { GitHubEndpoints } from "./services/github/user-auth.js";
import type { PreviewPageLinks } from "./services/preview/context.js";
import { createPageReads, type PageReads } from "./services/preview/page-reads.js";
import type { AccessSettings } from "./services/preview/render/preview-access.js";
import { deriveBypassToken } from "./services/shared/bypass-token.js";
import type { BackupReads, PreviewDirectory, PreviewSummary } from "./services/shared/dispatch.js";
import type { AccessGrants, Cluster, Databases } from "./services/shared/preview.js";

export interface PagePart {
  /** Why the page is off; undefined when it is on. */
  off?: string;
  settings?: PageSettings;
  /** The door (/previews, /auth/*), like the server's other listeners: answers its paths, false for the rest. */
  listener?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  reads?: PageReads;
  /** For the render: how to protect `access: github` previews, or why they cannot be. */
  access: AccessSettings | { unavailable: string };
  /** For the runner: the page's URL of a preview, and a deploy's bypass token. */
  links?: PreviewPageLinks;
  /** For the runner: ReferenceGrants in the bot's namespace (Gateway API gateways only). */
  accessGrants?: AccessGrants;
}

export function pagePartFrom(
  env: Env,
  o: {
    cluster: Cluster;
    kubeConfig: KubeConfig;
    databases?: Databases;
    backups?: BackupReads;
    logger: Logger;
    /** GitHub's web and API URLs for the sign-in (default from GHE_HOST; tests: the loopback GitHub). */
    github?: GitHubEndpoints;
  },
): PagePart {
  const setup = pageSetup(env, o.github);
  const access = accessSettingsOf(setup);
  if (!setup.on) return { off: setup.reason, access };
  const settings = setup.settings;
  const secret = settings.secrets[0]!;
  const bypassToken = (namespace: string, nonce: string) => deriveBypassToken(secret, namespace, nonce);
  const reads = createPageReads({
    cluster: o.cluster,
    logs: createPodLogReader({ kubeConfig: o.kubeConfig }),
    ...(o.databases ? { databases: o.databases } : {}),
    ...(o.backups ? { backups: o.backups } : {}),
    bypassToken,
  });
  const listener = createPageListener({
    settings,
    data: reads.data,
    previewForHost: reads.previewForHost,
    logger: o.logger.child({ component: "page" }),
  });
  const gatewayApi = settings.gateway === "envoy-gateway" || settings.gateway === "gateway-api-external-auth";
  return {
    settings,
    listener,
    reads,
    access,
    links: {
      previewUrl: (k) =>
        `${settings.botUrl}/previews/${encodeURIComponent(k.owner)}/${encodeURIComponent(k.repo)}/${k.number}`,
      bypassToken,
    },
    ...(gatewayApi
      ? {
          accessGrants: createAccessGrants({
            kubeConfig: o.kubeConfig,
            namespace: settings.botService.namespace,
            logger: o.logger,
          }),
        }
      : {}),
  };
}

/** The directory the doors show (Slack `/preview list|status`), with each preview's page when the page is on. */
export function withPageLinks(directory: PreviewDirectory, page: PagePart): PreviewDirectory {
  const links = page.links;
  if (!links) return directory;
  const add = (p: PreviewSummary): PreviewSummary => ({ ...p, pageUrl: links.previewUrl(p) });
  return {
    list: async (filter) => (await directory.list(filter)).map(add),
    get: async (key) => {
      const p = await directory.get(key);
      return p && add(p);
    },
  };
}
