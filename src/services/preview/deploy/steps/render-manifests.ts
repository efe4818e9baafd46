/**
 * Render manifests: the renderer extracts the downloaded tree and builds kustomize, Helm or plain YAML from it,
 * isolated (render/isolation.ts); the bot puts the answer through its transforms and guardrails, with kind scopes from
 * the cluster's discovery and the parent Gateway read for TLS. What was rewritten, every warning and the isolation the
 * render ran under are shown in the step's line of the check run (not only logged), and whether the preview is behind
 * the bot's GitHub sign-in (`access: github`: protected, or the render fails); when the render decided the
 * URL's scheme (nothing serves TLS: http), the run's URL and links follow it. The hooks' plan (which run before the
 * apply, which after the roll-out, which are left out) is said there too. `database.seed` is read here too (by
 * the renderer) and handed to the Database step.
 */
import type { DeployStep } from "../context.js";

const SHOWN = 6;

export const renderManifestsStep: DeployStep = {
  name: "Render manifests",
  async run(ctx, detail) {
    const { deps, config, ref, names, dir, report, signal } = ctx;
    if (!ctx.source) throw new Error("nothing to render: the source was not fetched");
    const result = await deps.renderer.render(
      { source: ctx.source, runDir: dir, config, ref, names, cluster: deps.cluster, access: ctx.access.mode },
      signal,
    );
    ctx.access.hosts = result.access.hosts;
    ctx.access.grants = result.access.grants;
    if (result.seed !== undefined) ctx.seed = result.seed;
    for (const w of [...result.rewrites, ...result.warnings]) deps.logger.warn({ key: names.key }, `render: ${w}`);
    if (result.url && names.url && result.url !== names.url) {
      const old = names.url;
      names.url = result.url;
      report.url = result.url;
      report.links = (report.links ?? []).map((l) =>
        l.url.startsWith(old) ? { ...l, url: `${result.url}${l.url.slice(old.length)}` } : l,
      );
    }
    // Hooks: when they run, and which are left out (a test hook) and why.
    if (result.extraUrls?.length) report.extraUrls = result.extraUrls;
    const notes = [...result.rewrites.map((r) => `rewritten: ${r}`), ...result.warnings, ...result.hooks];
    const shown = notes
      .slice(0, SHOWN)
      .map((w) => w.slice(0, 240))
      .join("; ");
    const files = result.extracted ? `, ${result.extracted.files} files` : "";
    const access = ctx.access.mode === "github" ? "; access: github (sign-in in front of every route)" : "";
    detail(
      `${result.objects.length} objects (${result.type}${files}; isolated: ${result.isolation.isolation}${result.isolation.workload ? ", renderer workload" : ""}${access})${notes.length ? `; ${notes.length} note(s): ${shown}${notes.length > SHOWN ? "; …" : ""}` : ""}`,
    );
    ctx.objects = result.objects;
    ctx.pinned = result.pinned;
  },
};
