/**
 * `preview-bot render --cluster`: the preflight's server half from a workstation, as the identity in KUBECONFIG
 * (KUBE_CONTEXT), nothing written. The same cluster is given to the render, so it renders as a deploy does (kind
 * scopes and helm's Kubernetes version and API versions from discovery, the parent Gateway read). The preview Namespace is dry-run; when the namespace already exists (a PR deployed
 * before), every object is server-side applied as a dry run, so RBAC, admission and schema refusals come back per
 * object, as a deploy's Dry run step gets them. A namespace that does not exist yet cannot hold a dry-run object, so
 * then only the kinds are checked against the cluster's API discovery (a kind it does not serve, e.g. a missing CRD),
 * and a note says the rest waits for the deploy.
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logger.js";
import { createCluster } from "../services/cluster/cluster.js";
import { dryRunProblem } from "../services/preview/deploy/steps/dry-run-problem.js";
import { refOf, type Cluster, type DryRunAnswer, type KubeObject } from "../services/shared/preview.js";

export interface ClusterVerdict {
  problems: string[];
  warnings: string[];
  notes: string[];
}

/** The kubeconfig the bot would use: KUBECONFIG from `env` (else the default places), KUBE_CONTEXT if set. */
function workstationKubeConfig(env: { KUBECONFIG?: string; KUBE_CONTEXT?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
  else kc.loadFromDefault();
  if (env.KUBE_CONTEXT) kc.setCurrentContext(env.KUBE_CONTEXT);
  return kc;
}

/** The cluster `--cluster` asks, as the identity in KUBECONFIG: for the render (discovery, the parent Gateway) and the dry runs. */
export function workstationCluster(env: { KUBECONFIG?: string; KUBE_CONTEXT?: string }, logger: Logger): Cluster {
  return createCluster({ kubeConfig: workstationKubeConfig(env), logger });
}

export async function askCluster(input: {
  cluster: Pick<Cluster, "dryRun" | "readObject" | "resourceScope">;
  /** The preview Namespace, as the deploy would create it. */
  namespace: KubeObject;
  /** Everything else the deploy writes into it: the guardrails, the PR's objects, the database Secret. */
  objects: readonly KubeObject[];
  describe: (o: KubeObject) => string;
}): Promise<ClusterVerdict> {
  const cluster = input.cluster;
  const name = input.namespace.metadata.name ?? "";
  const verdict: ClusterVerdict = { problems: [], warnings: [], notes: [] };
  const [ns] = await cluster.dryRun([input.namespace]);
  if (ns?.outcome === "refused") verdict.problems.push(dryRunProblem(`Namespace "${name}"`, ns));
  const exists = (await cluster.readObject("v1", "Namespace", undefined, name)) !== undefined;
  let answers: DryRunAnswer[];
  if (exists) answers = await cluster.dryRun(input.objects);
  else {
    verdict.notes.push(
      `namespace "${name}" does not exist yet: its objects were checked against the cluster's API discovery only; a deploy dry-runs each of them once the namespace and its guardrails exist`,
    );
    answers = [];
    for (const o of input.objects)
      if ((await cluster.resourceScope(o.apiVersion, o.kind)) === undefined)
        answers.push({
          ref: refOf(o),
          outcome: "refused",
          status: 404,
          reason: "NotFound",
          message: `the cluster does not serve ${o.apiVersion} ${o.kind} (no such kind in its API discovery: a missing CRD?)`,
          warnings: [],
        });
  }
  const key = (r: { apiVersion: string; kind: string; namespace?: string; name: string }) =>
    `${r.apiVersion}/${r.kind}/${r.namespace ?? ""}/${r.name}`;
  const byRef = new Map(input.objects.map((o) => [key(refOf(o)), o]));
  for (const a of answers) {
    const obj = byRef.get(key(a.ref));
    const who = obj ? input.describe(obj) : `${a.ref.kind} "${a.ref.name}"`;
    if (a.outcome === "refused") verdict.problems.push(dryRunProblem(who, a));
    for (const w of a.warnings) verdict.warnings.push(`${who}: ${w}`);
  }
  return verdict;
}
