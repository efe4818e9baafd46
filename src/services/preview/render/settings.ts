/** The renderer's bot-level settings from the environment, shared by the bot (src/parts.ts) and `preview-bot render`. */
import { tmpdir } from "node:os";
import path from "node:path";
import type { Env } from "../../../env.js";
import type { Logger } from "../../../logger.js";
import { guardrailSettings } from "../guardrails/namespace-guardrails.js";
import { findRenderTools, type RendererOptions } from "./index.js";
import { createSandboxWorker, type RenderLimits, type RenderWorker } from "./isolation.js";
import { createRemoteWorker } from "./remote.js";

/** `namespace/name[/sectionName]` → a Gateway parentRef. */
function gatewayParentRef(text: string): Record<string, string> {
  const [namespace, name, sectionName] = text.split("/");
  return { name: name!, namespace: namespace!, ...(sectionName ? { sectionName } : {}) };
}

export function rendererSettings(env: Env): Omit<RendererOptions, "logger" | "toolPath" | "worker"> {
  return {
    maxReplicas: env.PREVIEW_MAX_REPLICAS,
    bindableClusterRoles: env.PREVIEW_BINDABLE_CLUSTER_ROLES,
    // Refuse at render time what the preview namespace's Pod Security level (guardrails/namespace-guardrails.ts) would
    // refuse its pods for, and pods naming the bot's own ServiceAccount.
    podSecurity: env.PREVIEW_POD_SECURITY,
    botServiceAccount: env.BOT_SERVICE_ACCOUNT,
    // What a preview may ask of its neighbours (placement, annotations, gateways), from the guardrail settings.
    neighbours: guardrailSettings(env).neighbours,
    ...(env.KUSTOMIZE_COMMAND ? { kustomizeCommand: env.KUSTOMIZE_COMMAND.split(/\s+/).filter(Boolean) } : {}),
    ...(env.PREVIEW_GATEWAY ? { parentRefs: [gatewayParentRef(env.PREVIEW_GATEWAY)] } : {}),
    ...(env.PREVIEW_INGRESS_CLASS ? { ingressClassName: env.PREVIEW_INGRESS_CLASS } : {}),
    ...(env.PREVIEW_KUBE_VERSION ? { kubeVersion: env.PREVIEW_KUBE_VERSION } : {}),
    ...(env.PREVIEW_API_VERSIONS.length ? { apiVersions: env.PREVIEW_API_VERSIONS } : {}),
    secretSources: env.PREVIEW_SECRET_SOURCES,
    externalSecretStores: env.PREVIEW_EXTERNAL_SECRET_STORES,
    secretsForForks: env.PREVIEW_SECRETS_FOR_FORKS,
  };
}

/** One render's limits, from the settings. */
function renderLimits(env: Env): RenderLimits {
  return {
    cpuSeconds: env.RENDER_CPU_SECONDS,
    memoryBytes: env.RENDER_MEMORY_BYTES,
    wallSeconds: env.RENDER_TIMEOUT,
    outputBytes: env.RENDER_MAX_OUTPUT_BYTES,
  };
}

/** Where renders run, from the settings: the renderer workload (RENDERER_URL), else a local sandboxed process. */
export function renderWorkerFrom(env: Env, logger: Logger): RenderWorker {
  if (env.RENDERER_URL) return createRemoteWorker({ url: env.RENDERER_URL, limits: renderLimits(env), logger });
  const workDir = env.WORK_DIR ?? path.join(tmpdir(), "preview-bot");
  const sandbox = env.RENDER_SANDBOX?.split(/\s+/).filter(Boolean) ?? ["preview-sandbox"];
  return createSandboxWorker({
    sandbox,
    path: env.PATH,
    isolation: env.RENDER_ISOLATION,
    limits: renderLimits(env),
    logger,
    cacheDir: path.join(workDir, "render-cache"),
    warmDir: workDir,
    toolDirs: findRenderTools(env.PATH, {
      ...(env.KUSTOMIZE_COMMAND ? { kustomizeCommand: env.KUSTOMIZE_COMMAND.split(/\s+/).filter(Boolean) } : {}),
    }).then((t) => t.dirs),
  });
}
