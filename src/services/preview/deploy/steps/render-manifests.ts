/** Render manifests: kustomize or plain YAML from the checkout, through preview-bot's transforms. */
import type { DeployStep } from "../context.js";

export const renderManifestsStep: DeployStep = {
  name: "Render manifests",
  async run(ctx, detail) {
    const { deps, config, ref, names, dir } = ctx;
    const result = await deps.renderer.render({ dir, config, ref, names });
    for (const w of result.warnings) deps.logger.warn({ key: names.key }, `render: ${w}`);
    // Warnings (an undefined ${VAR}, an exclude that matched nothing, a Secret name clash) are shown, not just logged.
    const shown = result.warnings.slice(0, 3).map((w) => w.slice(0, 160)).join("; ");
    detail(`${result.objects.length} objects${result.warnings.length ? `; ${result.warnings.length} warning(s): ${shown}${result.warnings.length > 3 ? "; …" : ""}` : ""}`);
    ctx.objects = result.objects;
  },
};
