/**
 * What the cluster is, as `helm template` needs to know it to render as the cluster would (Argo CD passes the same):
 * its Kubernetes version (`/version`) and every API version it serves, as `group/version` and `group/version/Kind`
 * (`/api`, `/apis` and each group version's resource list), for `--kube-version` and `--api-versions`. Charts test
 * them (`kubeVersion: ">=1.23.0-0"`, `.Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget"`).
 */
import { ApisApi, CoreApi, VersionApi, type KubeConfig } from "@kubernetes/client-node";
import type { ClusterCapabilities } from "../shared/preview.js";
import { kubeError } from "./kube-errors.js";
import type { ObjectApi } from "./support.js";

/** Group versions read at once while listing resources. */
const CONCURRENCY = 8;

/**
 * `v1.29.1-eks-ab12cd` → `v1.29.1`. A vendor suffix reads as a semver pre-release, which no chart constraint without
 * `-0` accepts (`>=1.23.0` refuses `1.29.1-eks-…`): the version a chart is judged by is the release it runs.
 */
export function releaseVersion(gitVersion: string): string | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(gitVersion.trim());
  return m ? `v${m[1]}.${m[2]}.${m[3] ?? "0"}` : undefined;
}

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/** The cluster's version and API versions, from discovery (a few dozen GETs; the caller caches). */
export async function discoverCapabilities(kc: KubeConfig, objects: ObjectApi): Promise<ClusterCapabilities> {
  const doing = "reading the cluster's version and API versions (discovery)";
  try {
    const [code, core, groups] = await Promise.all([
      kc.makeApiClient(VersionApi).getCode(),
      kc.makeApiClient(CoreApi).getAPIVersions(),
      kc.makeApiClient(ApisApi).getAPIVersions(),
    ]);
    const kubeVersion = releaseVersion(code.gitVersion);
    if (!kubeVersion) throw new Error(`the server's version "${code.gitVersion}" is not a Kubernetes release`);
    const groupVersions = [
      ...core.versions,
      ...groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion)),
    ].filter((gv, i, all) => all.indexOf(gv) === i);
    const lists = await inBatches(groupVersions, CONCURRENCY, async (gv) => {
      // A group version an aggregated server stops serving mid-way is left out, not a failure of the render.
      const list = await objects.resourceList(gv).catch(() => undefined);
      const kinds = (list?.resources ?? []).filter((r) => !r.name.includes("/")).map((r) => `${gv}/${r.kind}`);
      return [gv, ...kinds];
    });
    return { kubeVersion, apiVersions: [...new Set(lists.flat())].sort() };
  } catch (err) {
    throw kubeError(doing, err);
  }
}
