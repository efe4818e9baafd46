/** Apply: server-side apply of every object, with preview-bot's field manager. */
import { describeRef } from "../../../shared/preview.js";
import type { DeployStep } from "../context.js";

export const applyStep: DeployStep = {
  name: "Apply",
  progress: true,
  async run(ctx, detail) {
    const refs = await ctx.deps.cluster.apply(ctx.objects);
    ctx.applied = refs;
    ctx.report.applied = refs.map(describeRef);
    detail(`${refs.length} objects applied (server-side apply)`);
  },
};
