/** Object storage with a global resourceVersion counter and a bounded event history (for watches that resume). */
import type { KindSpec } from "./kinds.js";
import { clone, type JsonObject } from "./merge.js";

export interface KubeObj extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & {
    name: string;
    namespace?: string;
    labels?: { [k: string]: string };
    annotations?: { [k: string]: string };
  };
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  kind: KindSpec;
  object: KubeObj;
  /** The object before a MODIFIED (selector-filtered watches turn "stops matching" into DELETED). */
  old?: KubeObj;
  rv: number;
}

export function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
}

const HISTORY_LIMIT = 5000;

export class Store {
  private readonly objects = new Map<string, KubeObj>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private rv = 1000;

  private key(kind: KindSpec, namespace: string | undefined, name: string): string {
    return `${kind.group}/${kind.plural}/${kind.namespaced ? (namespace ?? "") : ""}/${name}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Oldest resourceVersion a watch can resume from without 410 Expired. */
  get oldestResumable(): number {
    return this.history.length === HISTORY_LIMIT ? (this.history[0]?.rv ?? this.rv) : 0;
  }

  get(kind: KindSpec, namespace: string | undefined, name: string): KubeObj | undefined {
    const o = this.objects.get(this.key(kind, namespace, name));
    return o ? clone(o) : undefined;
  }

  list(kind: KindSpec, namespace?: string): KubeObj[] {
    const out: KubeObj[] = [];
    for (const o of this.objects.values()) {
      if (o.kind !== kind.kind || groupOf(o.apiVersion) !== kind.group) continue;
      if (namespace !== undefined && kind.namespaced && o.metadata.namespace !== namespace) continue;
      out.push(clone(o));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace ?? ""}/${b.metadata.name}`,
      ),
    );
  }

  /** Write (create or replace) with a fresh resourceVersion; returns the stored copy. */
  write(kind: KindSpec, obj: KubeObj): KubeObj {
    const k = this.key(kind, obj.metadata.namespace, obj.metadata.name);
    const old = this.objects.get(k);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(k, stored);
    this.emit({
      type: old ? "MODIFIED" : "ADDED",
      kind,
      object: clone(stored),
      ...(old ? { old: clone(old) } : {}),
      rv: this.rv,
    });
    return clone(stored);
  }

  remove(kind: KindSpec, namespace: string | undefined, name: string): KubeObj | undefined {
    const k = this.key(kind, namespace, name);
    const old = this.objects.get(k);
    if (!old) return undefined;
    this.objects.delete(k);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", kind, object: gone, rv: this.rv });
    return clone(gone);
  }

  /** Whether any stored object has this uid (the garbage collector's owner check). */
  hasUid(uid: string): boolean {
    for (const o of this.objects.values()) if (o.metadata.uid === uid) return true;
    return false;
  }

  /** Every stored object in a namespace, with its kind, for namespace finalization. */
  inNamespace(namespace: string, kinds: readonly KindSpec[]): Array<{ kind: KindSpec; object: KubeObj }> {
    const out: Array<{ kind: KindSpec; object: KubeObj }> = [];
    for (const kind of kinds.filter((k) => k.namespaced))
      for (const object of this.list(kind, namespace)) out.push({ kind, object });
    return out;
  }

  eventsSince(rv: number): StoreEvent[] {
    return this.history.filter((e) => e.rv > rv);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    for (const fn of [...this.listeners]) fn(e);
  }
}
