/**
 * The routes' side of sleep: every HTTPRoute and Ingress of the preview is pointed at the bot's wake door while it
 * sleeps, and back at its own backends when it wakes — so nothing of the bot's sits in the request path while the
 * preview is awake. Only the backends change: hostnames, matches, filters (a sign-in filter of a protected preview),
 * TLS and annotations stay, so the Host the visitor asked for reaches the bot, behind the same sign-in.
 *
 * - HTTPRoute: each rule's `backendRefs` → the bot's Service in the bot's namespace. Gateway API allows a reference
 *   across namespaces only through a ReferenceGrant in the referenced namespace: one per sleeping preview
 *   (`preview-wake-<namespace>`, labelled ours), created before the swap and deleted after the restore.
 * - Ingress: a backend must be in the Ingress' own namespace, so each backend → `preview-bot-wake`, an ExternalName
 *   Service in the preview namespace naming the bot's Service (`<name>.<namespace>.svc.<cluster domain>`;
 *   ingress-nginx and most controllers follow it; the Host header is kept).
 *
 * The original backends are recorded on the route (SLEEP_BACKENDS_ANNOTATION, JSON, rule by rule) and put back only
 * where the route still points at the wake door.
 */
import { PatchStrategy } from "@kubernetes/client-node";
import { MANAGED_BY } from "../shared/labels.js";
import { SLEEP_BACKENDS_ANNOTATION, SLEEP_FIELD_MANAGER, type WakeBackend } from "../shared/sleep.js";
import { isNotFound, kubeError } from "./kube-errors.js";
import { at, describeLive, type Live, type SleepObjects } from "./sleep-support.js";

const HTTPROUTE = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" };
const INGRESS = { apiVersion: "networking.k8s.io/v1", kind: "Ingress" };
const GRANT = { apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "ReferenceGrant" };
/** The ExternalName Service an Ingress of a sleeping preview points at. */
const WAKE_SERVICE = "preview-bot-wake";
/** Label on what sleep creates (the wake Service, the ReferenceGrant): the preview namespace it is for. */
const WAKE_FOR_LABEL = "preview-bot.dev/wake-for";

type Rule = Record<string, unknown>;
const rulesOf = (route: Live): Rule[] => {
  const rules = at(route, "spec", "rules");
  return Array.isArray(rules) ? (rules as Rule[]) : [];
};
const grantName = (namespace: string): string => `preview-wake-${namespace}`;
const json = (v: unknown): string => JSON.stringify(v ?? null);

/** HTTPRoute: the one backendRef of a sleeping rule. */
function wakeRef(b: WakeBackend): Record<string, unknown> {
  return { group: "", kind: "Service", name: b.name, namespace: b.namespace, port: b.port };
}
/** The rule's refs are exactly the wake door (the server may have defaulted `weight`, `group` and `kind`). */
const isWakeRefs = (refs: unknown, b: WakeBackend): boolean =>
  Array.isArray(refs) &&
  refs.length === 1 &&
  (at(refs[0], "kind") ?? "Service") === "Service" &&
  (at(refs[0], "group") ?? "") === "" &&
  at(refs[0], "name") === b.name &&
  at(refs[0], "namespace") === b.namespace &&
  at(refs[0], "port") === b.port;

/** Ingress: a backend pointing at the wake Service, on the bot's port. */
function wakeBackend(b: WakeBackend): Record<string, unknown> {
  return { service: { name: WAKE_SERVICE, port: { number: b.port } } };
}
const isWakeBackend = (backend: unknown): boolean => at(backend, "service", "name") === WAKE_SERVICE;

/** An Ingress' backends in order (defaultBackend first, then each rule's paths), and a copy with them replaced. */
function ingressBackends(spec: unknown): unknown[] {
  const out: unknown[] = [at(spec, "defaultBackend") ?? null];
  for (const rule of (at(spec, "rules") as unknown[] | undefined) ?? [])
    for (const p of (at(rule, "http", "paths") as unknown[] | undefined) ?? []) out.push(at(p, "backend") ?? null);
  return out;
}
function withIngressBackends(spec: unknown, replace: (old: unknown, i: number) => unknown): Record<string, unknown> {
  let i = 0;
  const next = (old: unknown) => replace(old, i++);
  const defaultBackend = next(at(spec, "defaultBackend") ?? null);
  const rules = ((at(spec, "rules") as Rule[] | undefined) ?? []).map((rule) => {
    const paths = at(rule, "http", "paths") as Rule[] | undefined;
    if (!paths) return rule;
    return { ...rule, http: { ...(rule.http as Rule), paths: paths.map((p) => ({ ...p, backend: next(p.backend) })) } };
  });
  return { ...(defaultBackend ? { defaultBackend } : {}), rules };
}

export class SleepRoutes {
  constructor(
    private readonly o: SleepObjects,
    private readonly backend: WakeBackend,
  ) {}

  /** Point every route at the wake door; the hosts they serve. */
  async sleep(namespace: string): Promise<{ routes: string[]; hosts: string[] }> {
    const [httpRoutes, ingresses] = await Promise.all([
      this.o.list(HTTPROUTE.apiVersion, HTTPROUTE.kind, namespace),
      this.o.list(INGRESS.apiVersion, INGRESS.kind, namespace),
    ]);
    const routes: string[] = [];
    const hosts = new Set<string>();
    if (httpRoutes.length > 0) await this.grant(namespace);
    for (const route of httpRoutes) {
      for (const h of (at(route, "spec", "hostnames") as string[] | undefined) ?? []) hosts.add(h.toLowerCase());
      const rules = rulesOf(route);
      const recorded = route.metadata?.annotations?.[SLEEP_BACKENDS_ANNOTATION];
      const asleep = rules.some((r) => isWakeRefs(r.backendRefs, this.backend));
      if (recorded !== undefined && asleep) {
        routes.push(describeLive(route));
        continue;
      }
      if (!rules.some((r) => Array.isArray(r.backendRefs) && r.backendRefs.length > 0)) continue;
      const record = json(rules.map((r) => r.backendRefs ?? null));
      const swapped = rules.map((r) =>
        Array.isArray(r.backendRefs) && r.backendRefs.length > 0 ? { ...r, backendRefs: [wakeRef(this.backend)] } : r,
      );
      await this.write(route, `pointing ${describeLive(route)} at the wake door`, record, { rules: swapped });
      routes.push(describeLive(route));
    }
    if (ingresses.length > 0) await this.wakeService(namespace);
    for (const ing of ingresses) {
      for (const rule of (at(ing, "spec", "rules") as unknown[] | undefined) ?? []) {
        const host = at(rule, "host");
        if (typeof host === "string") hosts.add(host.toLowerCase());
      }
      const backends = ingressBackends(ing.spec);
      const recorded = ing.metadata?.annotations?.[SLEEP_BACKENDS_ANNOTATION];
      if (recorded !== undefined && backends.some(isWakeBackend)) {
        routes.push(describeLive(ing));
        continue;
      }
      if (!backends.some((b) => b !== null)) continue;
      const spec = withIngressBackends(ing.spec, (old) => (old === null ? null : wakeBackend(this.backend)));
      await this.write(ing, `pointing ${describeLive(ing)} at the wake door`, json(backends), spec);
      routes.push(describeLive(ing));
    }
    return { routes: routes.sort(), hosts: [...hosts].sort() };
  }

  /** Put the recorded backends back where a route still points at the wake door; then remove the wake's objects. */
  async restore(namespace: string): Promise<{ routes: string[] }> {
    const [httpRoutes, ingresses] = await Promise.all([
      this.o.list(HTTPROUTE.apiVersion, HTTPROUTE.kind, namespace),
      this.o.list(INGRESS.apiVersion, INGRESS.kind, namespace),
    ]);
    const routes: string[] = [];
    for (const route of httpRoutes) {
      const recorded = this.recorded(route);
      if (recorded === undefined) continue;
      const rules = rulesOf(route);
      const held = rules.some((r) => isWakeRefs(r.backendRefs, this.backend));
      const restored = rules.map((r, i) => {
        if (!isWakeRefs(r.backendRefs, this.backend)) return r;
        const old = recorded[i];
        const { backendRefs: _wake, ...rest } = r;
        return Array.isArray(old) ? { ...rest, backendRefs: old } : rest;
      });
      await this.write(
        route,
        `restoring the backends of ${describeLive(route)}`,
        undefined,
        held ? { rules: restored } : undefined,
      );
      if (held) routes.push(describeLive(route));
    }
    for (const ing of ingresses) {
      const recorded = this.recorded(ing);
      if (recorded === undefined) continue;
      const held = ingressBackends(ing.spec).some(isWakeBackend);
      const spec = withIngressBackends(ing.spec, (now, i) => (isWakeBackend(now) ? (recorded[i] ?? null) : now));
      await this.write(ing, `restoring the backends of ${describeLive(ing)}`, undefined, held ? spec : undefined);
      if (held) routes.push(describeLive(ing));
    }
    await this.forget(namespace);
    return { routes: routes.sort() };
  }

  /** Delete the wake Service in the namespace and the ReferenceGrant in the bot's namespace (only ours). */
  async forget(namespace: string): Promise<string[]> {
    const removed: string[] = [];
    const targets = [
      { apiVersion: "v1", kind: "Service", namespace, name: WAKE_SERVICE },
      { ...GRANT, namespace: this.backend.namespace, name: grantName(namespace) },
    ];
    for (const t of targets) {
      const doing = `removing the wake door's ${t.kind} "${t.namespace}/${t.name}"`;
      try {
        if (!(await this.o.objects.namespaced(t.apiVersion, t.kind))) continue;
        const live = await this.o.objects.read({
          apiVersion: t.apiVersion,
          kind: t.kind,
          metadata: { name: t.name, namespace: t.namespace },
        });
        if (live.metadata?.labels?.[WAKE_FOR_LABEL] !== namespace) continue; // not ours to delete
        await this.o.objects.delete({
          apiVersion: t.apiVersion,
          kind: t.kind,
          metadata: { name: t.name, namespace: t.namespace },
        });
        removed.push(`${t.kind} "${t.namespace}/${t.name}"`);
      } catch (err) {
        if (!isNotFound(err)) throw kubeError(doing, err);
      }
    }
    return removed;
  }

  /** The recorded backends, rule by rule (or Ingress backend by backend); undefined without a readable record. */
  private recorded(route: Live): unknown[] | undefined {
    const text = route.metadata?.annotations?.[SLEEP_BACKENDS_ANNOTATION];
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      return Array.isArray(parsed) ? (parsed as unknown[]) : [];
    } catch {
      return [];
    }
  }

  private async write(
    route: Live,
    doing: string,
    record: string | undefined,
    spec: Record<string, unknown> | undefined,
  ) {
    try {
      await this.o.apply(route, {
        ...(record !== undefined ? { annotations: { [SLEEP_BACKENDS_ANNOTATION]: record } } : {}),
        ...(spec ? { spec } : {}),
      });
    } catch (err) {
      throw kubeError(doing, err);
    }
  }

  private async ensure(obj: Record<string, unknown>, doing: string): Promise<void> {
    try {
      await this.o.objects.patch(
        obj as never,
        undefined,
        undefined,
        SLEEP_FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (err) {
      throw kubeError(doing, err);
    }
  }

  /** The ReferenceGrant that lets the namespace's HTTPRoutes reach the bot's Service. */
  private async grant(namespace: string): Promise<void> {
    if (!(await this.o.objects.namespaced(GRANT.apiVersion, GRANT.kind).catch(() => undefined))) return;
    const b = this.backend;
    await this.ensure(
      {
        ...GRANT,
        metadata: {
          name: grantName(namespace),
          namespace: b.namespace,
          labels: { ...MANAGED_BY, [WAKE_FOR_LABEL]: namespace },
        },
        spec: {
          from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace }],
          to: [{ group: "", kind: "Service", name: b.name }],
        },
      },
      `letting the HTTPRoutes of namespace "${namespace}" reach the bot's Service "${b.namespace}/${b.name}" (ReferenceGrant)`,
    );
  }

  /** The ExternalName Service in the preview namespace that an Ingress backend can name. */
  private async wakeService(namespace: string): Promise<void> {
    const b = this.backend;
    await this.ensure(
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: WAKE_SERVICE, namespace, labels: { ...MANAGED_BY, [WAKE_FOR_LABEL]: namespace } },
        spec: {
          type: "ExternalName",
          externalName: `${b.name}.${b.namespace}.svc.${b.clusterDomain}`,
          ports: [{ name: "http", port: b.port, protocol: "TCP" }],
        },
      },
      `creating the wake door's Service "${namespace}/${WAKE_SERVICE}"`,
    );
  }
}
