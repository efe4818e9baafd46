/**
 * Everything the bot applies for a preview, in order, without a cluster: the Namespace with its labels, the bot's
 * RoleBinding and guardrails (namespace-guardrails.ts), then the render held inside them (confine-objects.ts). This is
 * what `preview-bot render` prints, so a reviewer sees exactly what a preview gets.
 */
import type { PreviewConfig } from "../../../config.js";
import type { KubeObject, PreviewNames } from "../../shared/preview.js";
import { confineObjects } from "./confine-objects.js";
import { fitOwnQuotas } from "./quota.js";
import {
  describeGuardrails,
  guardrailObjects,
  guardrailRoleBinding,
  previewNamespaceLabels,
  resolveGuardrails,
  roleBindingObject,
  type GuardrailSettings,
} from "./namespace-guardrails.js";

export interface GuardedPreview {
  /** The bot's own objects, applied first: Namespace, RoleBinding, ResourceQuota, LimitRange, NetworkPolicy. */
  guardrails: KubeObject[];
  /** The repository's objects as they will be applied (NetworkPolicies narrowed). */
  objects: KubeObject[];
  /** One line: what the preview is held to. */
  summary: string;
  /** Where the repository asked for more than the bot allows. */
  notes: string[];
  /** What of the render was rewritten to stay inside the guardrails. */
  rewrites: string[];
  /** What of the render is refused (nothing is applied while there is any). */
  problems: string[];
}

export function guardedPreview(
  rendered: readonly KubeObject[],
  names: PreviewNames,
  config: PreviewConfig,
  bounds: GuardrailSettings,
): GuardedPreview {
  const { settings, notes } = resolveGuardrails(bounds, config.guardrails, config.route);
  const confined = confineObjects(rendered, settings, names.namespace);
  notes.push(...fitOwnQuotas(settings, confined.objects));
  const namespace: KubeObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: names.namespace,
      labels: previewNamespaceLabels(config, names, settings),
      annotations: { ...config.namespace.annotations, ...names.annotations },
    },
  };
  return {
    guardrails: [
      namespace,
      roleBindingObject(names.namespace, guardrailRoleBinding(settings)),
      ...guardrailObjects(names.namespace, settings),
    ],
    objects: confined.objects,
    summary: describeGuardrails(settings),
    notes,
    rewrites: confined.rewrites,
    problems: confined.problems,
  };
}
