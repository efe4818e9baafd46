/**
 * SleepControl (shared/sleep.ts) on Kubernetes: the workloads' side in sleep-workloads.ts, the routes' in
 * sleep-routes.ts, both through one SleepObjects (list the preview's objects, server-side apply under the sleep field
 * manager, "does the sleep still hold this field"). Only objects carrying preview-bot's label are touched, and only
 * in namespaces that are ours.
 */
import { AppsV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import type { SleepControl, WakeBackend } from "../shared/sleep.js";
import { isProtectedNamespace } from "../shared/labels.js";
import { kubeError } from "./kube-errors.js";
import { isRolledOut, type Workload } from "./rollout-health.js";
import { SleepRoutes } from "./sleep-routes.js";
import { SleepObjects } from "./sleep-support.js";
import { restoreWorkloads, sleepWorkloads, workloadRequests } from "./sleep-workloads.js";
import { ObjectApi, sleep as pause } from "./support.js";

export interface SleepControlOptions {
  kubeConfig: KubeConfig;
  /** Where sleeping routes point: the bot's Service. */
  backend: WakeBackend;
  protectedNamespaces?: readonly string[];
  logger: Logger;
  /** Between two looks at the workloads while a wake waits for them (default 250 ms: a wake is waited on). */
  pollMs?: number;
}

export function createSleepControl(o: SleepControlOptions): SleepControl {
  const objects = new SleepObjects(o.kubeConfig.makeApiClient(ObjectApi));
  const routes = new SleepRoutes(objects, o.backend);
  const apps = o.kubeConfig.makeApiClient(AppsV1Api);
  const log = o.logger.child({ component: "sleep" });
  const pollMs = o.pollMs ?? 250;
  const guard = (namespace: string, doing: string): void => {
    if (isProtectedNamespace(namespace, o.protectedNamespaces))
      throw new Error(`${doing}: namespace "${namespace}" is protected`);
  };

  return {
    async sleep(namespace) {
      guard(namespace, `putting namespace "${namespace}" to sleep`);
      const w = await sleepWorkloads(objects, namespace);
      const r = await routes.sleep(namespace);
      log.info({ namespace, ...w, routes: r.routes }, "preview asleep");
      return { ...w, ...r };
    },
    async restoreWorkloads(namespace) {
      guard(namespace, `waking namespace "${namespace}"`);
      return restoreWorkloads(objects, namespace);
    },
    async restoreRoutes(namespace) {
      guard(namespace, `waking namespace "${namespace}"`);
      const r = await routes.restore(namespace);
      log.info({ namespace, routes: r.routes }, "preview routes restored");
      return r;
    },
    forget: (namespace) => routes.forget(namespace),
    async requests(namespace) {
      return workloadRequests(objects, namespace);
    },
    async waitAwake(namespace, timeoutMs, signal) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let list: Workload[];
        try {
          const [d, s] = await Promise.all([
            apps.listNamespacedDeployment({ namespace }),
            apps.listNamespacedStatefulSet({ namespace }),
          ]);
          list = [
            ...d.items.map((object): Workload => ({ kind: "Deployment", object })),
            ...s.items.map((object): Workload => ({ kind: "StatefulSet", object })),
          ];
        } catch (err) {
          throw kubeError(`waiting for the workloads of namespace "${namespace}"`, err);
        }
        if (list.every(isRolledOut)) return true;
        if (signal?.aborted || Date.now() >= deadline) return false;
        await pause(Math.min(pollMs, Math.max(0, deadline - Date.now())), signal);
      }
    },
  };
}
