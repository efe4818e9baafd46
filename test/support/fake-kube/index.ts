/**
 * A fake Kubernetes API server for tests: plain HTTP on 127.0.0.1, driven by the real @kubernetes/client-node.
 * It answers like kube-apiserver v1.37 wherever test/contract (the same cases against this fake and the real
 * server) can tell: discovery and CRDs (crds.ts), CRUD with real Status errors and validation messages
 * (validate.ts), server-side apply with field ownership, conflicts and force (fields.ts, ownership.ts), immutable
 * fields (immutable.ts), selectors, watch, deletion with finalizers, namespace termination and garbage collection
 * (deletion.ts), the scale subresource, workload rollout status and pod logs. What it does not model — admission,
 * RBAC, per-key list merging — is listed in docs/testing-against-kubernetes.md; simplifications are documented where
 * they are made (merge.ts for strategic merge patches, controllers.ts for workloads).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { FakeApi } from "./api.js";
import { WorkloadController, type WorkloadBehaviour } from "./controllers.js";
import { kindsOfCrd, readCrdFiles, serveCrds } from "./crds.js";
import { BUILTIN_KINDS, KindRegistry, type KindSpec } from "./kinds.js";
import { Router, type RequestRecord } from "./server.js";
import { groupOf, Store, type KubeObj } from "./store.js";

export type { KindSpec, KubeObj, RequestRecord, WorkloadBehaviour };

export interface FakeKubeOptions {
  /** How long a deleted namespace stays Terminating before it and its content are removed (default 50 ms). */
  namespaceFinalizeMs?: number;
  /** Delay before the workload controller reacts to a Deployment/StatefulSet change (default 20 ms). */
  controllerTickMs?: number;
  /** Extra kinds to serve from the start (same as calling registerKind). */
  kinds?: KindSpec[];
  /**
   * CRD YAML files to serve from the start, as if applied (e.g. `runCrdFiles()` from test/support/kube-real: the
   * files the real control plane installs).
   */
  crdFiles?: readonly string[];
}

export interface FakeKube {
  url: string;
  /** A KubeConfig for the real client (loadFromOptions, plain http). */
  kubeConfig(): KubeConfig;
  stop(): Promise<void>;
  /**
   * Serve a custom kind (a CRD), e.g. `{ group: "secrets-store.csi.x-k8s.io", version: "v1", kind:
   * "SecretProviderClass", plural: "secretproviderclasses", namespaced: true }`.
   */
  registerKind(spec: KindSpec): void;
  /** Keep this namespace Terminating forever once deleted (or now, if it already is). */
  stickNamespace(name: string): void;
  /** Let a stuck namespace finish terminating. */
  releaseNamespace(name: string): void;
  setWorkloadBehaviour(fn: (obj: KubeObj) => WorkloadBehaviour): void;
  /** Read state directly (undefined when absent). */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObj | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObj[];
  /** Put an object straight into the store (no admission), e.g. a namespace someone else owns. */
  seed(obj: KubeObj): KubeObj;
  /** Serve `text` as a container's log. */
  setPodLog(namespace: string, pod: string, container: string, text: string): void;
  /** Every request received, in order. */
  readonly requests: RequestRecord[];
  /**
   * Fault injection: for each request, `fn` may return an HTTP status (500, 503, 429, …), or a status with the
   * Status's message and reason (a real server's words), to answer with a Status error instead of serving it (the
   * request is not applied). `undefined` turns faults off.
   */
  setFaults(fn: ((req: { method: string; path: string }) => Fault | undefined) | undefined): void;
}

export type Fault = number | { code: number; message: string; reason: string };

function kindOrThrow(registry: KindRegistry, apiVersion: string, kind: string): KindSpec {
  const spec = registry.byKind(apiVersion, kind);
  if (!spec) throw new Error(`fake-kube: kind ${apiVersion} ${kind} is not registered`);
  return spec;
}

export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const registry = new KindRegistry([...BUILTIN_KINDS, ...(options.kinds ?? [])]);
  const store = new Store();
  const api = new FakeApi(registry, store, options.namespaceFinalizeMs ?? 50);
  const controller = new WorkloadController(api, options.controllerTickMs ?? 20);
  const router = new Router(api, controller);
  const stopCrds = serveCrds(registry, store);
  for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
    api.create(kindOrThrow(registry, "v1", "Namespace"), undefined, { metadata: { name } }, {});
  }
  const crdKind = kindOrThrow(registry, "apiextensions.k8s.io/v1", "CustomResourceDefinition");
  for (const crd of readCrdFiles(options.crdFiles ?? [])) {
    for (const k of kindsOfCrd(crd)) registry.register(k);
    api.create(crdKind, undefined, crd, { fieldManager: "test-setup" });
  }

  let faults: ((req: { method: string; path: string }) => Fault | undefined) | undefined;
  const server = createServer((req, res) => {
    const fault = faults?.({ method: req.method ?? "GET", path: (req.url ?? "/").split("?")[0]! });
    if (fault === undefined) return router.handle(req, res);
    const code = typeof fault === "number" ? fault : fault.code;
    const body = JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: typeof fault === "number" ? `fake-kube: injected fault ${code}` : fault.message,
      reason: typeof fault === "number" ? (code === 429 ? "TooManyRequests" : "InternalError") : fault.reason,
      code,
    });
    req.resume();
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests: router.requests,
    setFaults(fn) {
      faults = fn;
    },
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
        users: [{ name: "fake" }],
        contexts: [{ name: "fake", cluster: "fake", user: "fake" }],
        currentContext: "fake",
      });
      return kc;
    },
    async stop() {
      stopCrds();
      controller.close();
      api.close();
      router.closeStreams();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    registerKind: (spec) => registry.register(spec),
    stickNamespace(name) {
      api.stuck.add(name);
    },
    releaseNamespace: (name) => api.release(name),
    setWorkloadBehaviour(fn) {
      controller.behaviour = fn;
    },
    get: (apiVersion, kind, namespace, name) => store.get(kindOrThrow(registry, apiVersion, kind), namespace, name),
    list: (apiVersion, kind, namespace) => store.list(kindOrThrow(registry, apiVersion, kind), namespace),
    seed(obj) {
      const spec = kindOrThrow(registry, obj.apiVersion, obj.kind);
      if (groupOf(obj.apiVersion) !== spec.group) throw new Error("fake-kube: apiVersion/kind mismatch");
      return store.write(spec, {
        ...obj,
        metadata: {
          uid: crypto.randomUUID(),
          creationTimestamp: new Date().toISOString(),
          generation: 1,
          ...obj.metadata,
        },
      });
    },
    setPodLog(namespace, pod, container, text) {
      controller.logs.set(`${namespace}/${pod}/${container}`, text);
    },
  };
}
