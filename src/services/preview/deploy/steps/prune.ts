/** Prune: delete what carries this preview's labels but left the render. */
import { describeRef } from "../../../shared/preview.js";
import type { DeployStep } from "../context.js";

export const pruneStep: DeployStep = {
  name: "Prune",
  async run({ deps, names, applied, report }, detail) {
    const pruned = await deps.cluster.prune(names.namespace, names.labels, applied);
    report.pruned = pruned.map(describeRef);
    detail(
      pruned.length
        ? `${pruned.length} removed: ${report.pruned.slice(0, 5).join(", ")}${pruned.length > 5 ? ", …" : ""}`
        : "nothing to remove",
    );
  },
};
