/**
 * Render manifests: kustomize, Helm or plain YAML from the checkout, through preview-bot's transforms and
 * guardrails, with kind scopes from the cluster's discovery and the parent Gateway read for TLS. What was rewritten
 * and every warning are shown in the step's line of the check run (not only logged); when the render decided the
 * URL's scheme (nothing serves TLS: http), the run's URL and links follow it.
 */
import type { DeployStep } from "../context.js";

const SHOWN = 6;

export const renderManifestsStep: DeployStep = {
  name: "Render manifests",
  async run(ctx, detail) {
    const { deps, config, ref, names, dir, report } = ctx;
    const result = await deps.renderer.render({ dir, config, ref, names, cluster: deps.cluster });
    for (const w of [...result.rewrites, ...result.warnings]) deps.logger.warn({ key: names.key }, `render: ${w}`);
    if (result.url && names.url && result.url !== names.url) {
      const old = names.url;
      names.url = result.url;
      report.url = result.url;
      report.links = (report.links ?? []).map((l) =>
        l.url.startsWith(old) ? { ...l, url: `${result.url}${l.url.slice(old.length)}` } : l,
      );
    }
    const notes = [...result.rewrites.map((r) => `rewritten: ${r}`), ...result.warnings];
    const shown = notes
      .slice(0, SHOWN)
      .map((w) => w.slice(0, 240))
      .join("; ");
    detail(
      `${result.objects.length} objects (${result.type})${notes.length ? `; ${notes.length} note(s): ${shown}${notes.length > SHOWN ? "; …" : ""}` : ""}`,
    );
    ctx.objects = result.objects;
  },
};
