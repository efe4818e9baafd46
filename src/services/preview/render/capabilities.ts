/**
 * Which Kubernetes `helm template` renders for (`--kube-version`, `--api-versions`): the cluster's own, from its
 * discovery (asked once and cached by the Cluster); without a cluster (`preview-bot render` offline), the bot's
 * settings PREVIEW_KUBE_VERSION / PREVIEW_API_VERSIONS; a repository's `manifests.kubeVersion` replaces the version
 * and its `manifests.apiVersions` are added. The renderer has no network, so the bot asks and passes the answer in
 * the worker's request. What was used is said in the render's notes.
 */
import type { PreviewConfig } from "../../../config.js";
import { releaseVersion } from "../../cluster/discovery.js";
import { describeError } from "../../shared/format.js";
import type { Cluster } from "../../shared/preview.js";

export interface HelmTarget {
  kubeVersion?: string;
  apiVersions: string[];
  /** Where they came from, for the render's notes. */
  note: string;
  warnings: string[];
}

export interface OfflineCapabilities {
  kubeVersion?: string;
  apiVersions?: readonly string[];
}

export async function helmTarget(
  config: PreviewConfig,
  cluster: Pick<Cluster, "capabilities"> | undefined,
  offline: OfflineCapabilities,
): Promise<HelmTarget> {
  const warnings: string[] = [];
  let kubeVersion: string | undefined;
  let apiVersions: string[] = [];
  let from: string;
  const fromSettings = (): string => {
    kubeVersion = offline.kubeVersion ? releaseVersion(offline.kubeVersion) : undefined;
    apiVersions = [...(offline.apiVersions ?? [])];
    return kubeVersion || apiVersions.length
      ? "the bot's settings (PREVIEW_KUBE_VERSION, PREVIEW_API_VERSIONS)"
      : "helm's own defaults (no cluster to ask and no PREVIEW_KUBE_VERSION)";
  };
  if (cluster) {
    try {
      const caps = await cluster.capabilities();
      kubeVersion = caps.kubeVersion;
      apiVersions = caps.apiVersions;
      from = "the cluster's discovery";
    } catch (err) {
      from = fromSettings();
      warnings.push(
        `helm: could not read the cluster's version and API versions (${describeError(err).split("\n")[0]}); rendered for ${from}`,
      );
    }
  } else from = fromSettings();
  const own = config.manifests.kubeVersion ? releaseVersion(config.manifests.kubeVersion) : undefined;
  if (own) kubeVersion = own;
  const extra = config.manifests.apiVersions.filter((v) => !apiVersions.includes(v));
  apiVersions = [...apiVersions, ...extra];
  const version = own
    ? `Kubernetes ${own} (manifests.kubeVersion)`
    : kubeVersion
      ? `Kubernetes ${kubeVersion} (${from})`
      : `helm's built-in Kubernetes version (${from})`;
  const apis = `${apiVersions.length} API versions${extra.length ? ` (${extra.length} from manifests.apiVersions)` : ""}`;
  return {
    ...(kubeVersion ? { kubeVersion } : {}),
    apiVersions,
    note: `helm rendered for ${version} with ${apis}`,
    warnings,
  };
}
