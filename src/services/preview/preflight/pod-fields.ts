/**
 * The pod fields whose wrong type the render cannot see and the API server answers badly: an env `value` that is not a
 * string (YAML `false`, `8080`, a Helm value rendered without `| quote`) makes kube-apiserver's server-side apply fail
 * with a 500 "failed to create typed patch object" (kubernetes/kubernetes#139253), and a port without a
 * `containerPort` (a Helm value that does not exist renders `null`) a 422. Found offline, each names the container and
 * the field, with the fix, so `render` refuses what the deploy could never apply (issue 22: microservices-demo's
 * chart, argocd-example-apps' helm-guestbook).
 */

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const CONTAINER_LISTS = ["initContainers", "containers", "ephemeralContainers"] as const;

/** What is wrong with the pod spec's container fields, one line each. */
export function podFieldProblems(pod: Rec): string[] {
  const problems: string[] = [];
  for (const list of CONTAINER_LISTS)
    for (const item of asList(pod[list])) {
      const c = asRec(item);
      if (!c) continue;
      const who = `container "${typeof c.name === "string" ? c.name : "?"}"`;
      for (const e of asList(c.env)) {
        const env = asRec(e);
        if (!env || !("value" in env) || env.value === null || typeof env.value === "string") continue;
        const shown = JSON.stringify(env.value);
        problems.push(
          `${who}: env ${typeof env.name === "string" ? env.name : "?"} has the ${typeof env.value} value ${shown}; the API server takes strings only: quote it ("${String(env.value)}"), with \`| quote\` in a Helm template`,
        );
      }
      for (const [i, p] of asList(c.ports).entries()) {
        const port = asRec(p);
        if (!port) continue;
        const n = port.containerPort;
        if (typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535) continue;
        problems.push(
          `${who}: ports[${i}]${typeof port.name === "string" ? ` ("${port.name}")` : ""} has containerPort ${JSON.stringify(n ?? null)}; it must be a port number from 1 to 65535 (in a Helm chart, a value that is not set renders null)`,
        );
      }
    }
  return problems;
}
