/** The renderer's bot-level settings from the environment, shared by the bot (src/deps.ts) and `preview-bot render`. */
import type { Env } from "../../../env.js";
import type { RendererOptions } from "./index.js";

/** `namespace/name[/sectionName]` → a Gateway parentRef. */
function gatewayParentRef(text: string): Record<string, string> {
  const [namespace, name, sectionName] = text.split("/");
  return { name: name!, namespace: namespace!, ...(sectionName ? { sectionName } : {}) };
}

export function rendererSettings(env: Env): Omit<RendererOptions, "logger" | "toolPath" | "workDir"> {
  return {
    maxReplicas: env.PREVIEW_MAX_REPLICAS,
    bindableClusterRoles: env.PREVIEW_BINDABLE_CLUSTER_ROLES,
    // Refuse at render time what the preview namespace's Pod Security level (guardrails/namespace-guardrails.ts) would
    // refuse its pods for, and pods naming the bot's own ServiceAccount.
    podSecurity: env.PREVIEW_POD_SECURITY,
    botServiceAccount: env.BOT_SERVICE_ACCOUNT,
    ...(env.KUSTOMIZE_COMMAND ? { kustomizeCommand: env.KUSTOMIZE_COMMAND.split(/\s+/).filter(Boolean) } : {}),
    ...(env.PREVIEW_GATEWAY ? { parentRefs: [gatewayParentRef(env.PREVIEW_GATEWAY)] } : {}),
    ...(env.PREVIEW_INGRESS_CLASS ? { ingressClassName: env.PREVIEW_INGRESS_CLASS } : {}),
  };
}
