/**
 * Prometheus Operator objects stay within the preview's namespace (issue 21). The shared Prometheus scrapes what
 * they describe with its own identity and files, so:
 * - ServiceMonitor and PodMonitor: a `namespaceSelector` is removed, with a note (a monitor then selects only its
 *   own namespace, which is what a preview's monitor means); file-based credentials (`bearerTokenFile`,
 *   `tlsConfig` `caFile`/`certFile`/`keyFile`: Prometheus's own files, such as its ServiceAccount token) and
 *   relabelling that writes `__address__` (scraping any address with Prometheus's credentials) are refused;
 * - PrometheusRule: a rule may not set the `namespace` label to another namespace (its alerts would reach that
 *   namespace's on-call);
 *   what its expressions read is for Prometheus to bound (`enforcedNamespaceLabel`, docs/operations.md);
 * - Probe and ScrapeConfig are refused: they point Prometheus at arbitrary targets.
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "../render/cluster-scoped.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const asList = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(asRec).filter((x): x is Rec => x !== undefined) : []);

export const isMonitoring = (obj: KubeObject): boolean => obj.apiVersion.startsWith("monitoring.coreos.com/");

const FILE_FIELDS = ["caFile", "certFile", "keyFile"] as const;

function endpoints(what: string, list: Rec[], field: string, problems: string[]): void {
  list.forEach((e, i) => {
    const where = `${what}: ${field}[${i}]`;
    if (e.bearerTokenFile !== undefined)
      problems.push(
        `${where}.bearerTokenFile is refused (it sends one of Prometheus's own files, such as its token; use bearerTokenSecret or authorization with a Secret of the preview)`,
      );
    const tls = asRec(e.tlsConfig) ?? {};
    for (const f of FILE_FIELDS)
      if (tls[f] !== undefined)
        problems.push(`${where}.tlsConfig.${f} is refused (a file of Prometheus's own; use a Secret of the preview)`);
    for (const kind of ["relabelings", "metricRelabelings"] as const)
      for (const r of asList(e[kind])) {
        const writes =
          r.targetLabel === "__address__" ||
          (String(r.action ?? "").toLowerCase() === "labelmap" && String(r.replacement ?? "").includes("__address__"));
        if (writes)
          problems.push(
            `${where}.${kind}: relabelling __address__ is refused (it would make Prometheus scrape any address with its credentials)`,
          );
      }
  });
}

/** Check one monitoring object in place; refusals to `problems`, rewrites to `rewrites`. */
export function monitoringRules(obj: KubeObject, problems: string[], rewrites: string[]): void {
  const what = describeObject(obj);
  const spec = asRec(obj.spec) ?? {};
  switch (obj.kind) {
    case "ServiceMonitor":
    case "PodMonitor": {
      if (spec.namespaceSelector !== undefined) {
        const was = JSON.stringify(spec.namespaceSelector);
        delete spec.namespaceSelector;
        rewrites.push(`${what}: namespaceSelector ${was} removed (a preview's monitor selects only its own namespace)`);
      }
      const field = obj.kind === "ServiceMonitor" ? "endpoints" : "podMetricsEndpoints";
      endpoints(what, asList(spec[field]), field, problems);
      return;
    }
    case "PrometheusRule":
      for (const group of asList(spec.groups))
        for (const rule of asList(group.rules))
          if (asRec(rule.labels)?.namespace !== undefined && asRec(rule.labels)!.namespace !== obj.metadata.namespace)
            problems.push(
              `${what}: rule "${String(rule.alert ?? rule.record ?? "?")}" sets the namespace label to "${String(asRec(rule.labels)!.namespace)}", which is refused (its alerts would claim another namespace)`,
            );
      return;
    case "Probe":
    case "ScrapeConfig":
      problems.push(
        `${what}: ${obj.kind}s are refused (they point the shared Prometheus at arbitrary targets); use a ServiceMonitor or PodMonitor for the preview's own pods`,
      );
      return;
  }
}
