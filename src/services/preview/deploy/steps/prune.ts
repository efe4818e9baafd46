/** Prune: delete what carries this preview's labels but left the render (the render's hooks stay: they run later). */
import { describeRef, refOf } from "../../../shared/preview.js";
import { isHook } from "../../render/hooks.js";
import type { DeployStep } from "../context.js";

export const pruneStep: DeployStep = {
  name: "Prune",
  async run({ deps, names, applied, objects, report }, detail) {
    const hooks = objects.filter(isHook).map(refOf);
    const pruned = await deps.cluster.prune(names.namespace, names.labels, [...applied, ...hooks]);
    report.pruned = pruned.map(describeRef);
    detail(
      pruned.length
        ? `${pruned.length} removed: ${report.pruned.slice(0, 5).join(", ")}${pruned.length > 5 ? ", …" : ""}`
        : "nothing to remove",
    );
  },
};
