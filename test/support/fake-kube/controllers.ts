/**
 * Workload controller simulation: after a short tick, Deployments, StatefulSets and ReplicationControllers get Pods
 * and a status (a ReplicationController's status has no updatedReplicas, as the real one's). The
 * default behaviour rolls out ready; `setWorkloadBehaviour` makes chosen workloads fail the way a kubelet reports it
 * (waiting reason on the container, Warning events on the pod, a log at /pods/<name>/log). Simplified: Deployment
 * pods name a ReplicaSet owner (`<deployment>-<template hash>`) but no ReplicaSet object is created.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { now, type FakeApi } from "./api.js";
import type { KindSpec } from "./kinds.js";
import { isObject, type JsonObject } from "./merge.js";
import type { KubeObj, StoreEvent } from "./store.js";

export type WorkloadBehaviour =
  | "ready"
  | {
      /** The container's waiting reason, e.g. "ImagePullBackOff", "CrashLoopBackOff", "CreateContainerConfigError". */
      fail: string;
      /** Message of the first Warning event (and of the waiting state). */
      message?: string;
      /** Text served as the failing container's log. */
      log?: string;
      /** Which container fails (default: the first). */
      container?: string;
    };

const IMAGE_REASONS = [
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "ContainerCreating",
  "CreateContainerConfigError",
];

interface Container {
  name: string;
  image: string;
}

export class WorkloadController {
  behaviour: (obj: KubeObj) => WorkloadBehaviour = () => "ready";
  /** Pod logs by `namespace/pod/container`. */
  readonly logs = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly api: FakeApi,
    private readonly tickMs: number,
  ) {
    this.unsubscribe = api.store.subscribe((e) => this.onEvent(e));
  }

  private kind(apiVersion: string, kind: string): KindSpec {
    return this.api.registry.byKind(apiVersion, kind)!;
  }

  private onEvent(e: StoreEvent): void {
    if (e.kind.kind === "ResourceQuota" && e.type !== "DELETED") return this.computeQuota(e.kind, e.object);
    if (!["Deployment", "StatefulSet", "ReplicationController"].includes(e.kind.kind)) return;
    const key = `${e.kind.kind}/${e.object.metadata.namespace}/${e.object.metadata.name}`;
    if (e.type === "DELETED") return;
    const status = isObject(e.object.status) ? e.object.status : {};
    if (status.observedGeneration === e.object.metadata.generation) return;
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.reconcile(e.kind, e.object.metadata.namespace ?? "", e.object.metadata.name);
    }, this.tickMs);
    this.timers.set(key, t);
  }

  /**
   * The resourcequota controller, simplified: status.hard follows spec.hard at once, and usage is reported as zero
   * (the fake enforces no quota; what a quota refuses is proven on the real control plane).
   */
  private computeQuota(kind: KindSpec, quota: KubeObj): void {
    const hard = isObject(quota.spec) && isObject(quota.spec.hard) ? quota.spec.hard : {};
    const status = isObject(quota.status) ? quota.status : {};
    if (JSON.stringify(status.hard ?? {}) === JSON.stringify(hard)) return;
    // After the write that triggered it has been announced, so watchers see the events in order.
    queueMicrotask(() =>
      this.api.writeStatus(kind, quota, { hard, used: Object.fromEntries(Object.keys(hard).map((k) => [k, "0"])) }),
    );
  }

  private reconcile(kind: KindSpec, namespace: string, name: string): void {
    const obj = this.api.store.get(kind, namespace, name);
    if (!obj || obj.metadata.deletionTimestamp) return;
    const spec = isObject(obj.spec) ? obj.spec : {};
    const desired = typeof spec.replicas === "number" ? spec.replicas : 1;
    const template = isObject(spec.template) ? spec.template : {};
    const tmeta = isObject(template.metadata) ? template.metadata : {};
    const tspec = isObject(template.spec) ? template.spec : {};
    const containers = (Array.isArray(tspec.containers) ? tspec.containers : [])
      .filter(isObject)
      .map((c) => ({ name: String(c.name), image: String(c.image ?? "") }));
    const behaviour = this.behaviour(obj);
    const hash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 10);

    // Replace the pods of older generations (a rollout with maxSurge 0, simplified).
    const podKind = this.kind("v1", "Pod");
    for (const pod of this.api.store.list(podKind, namespace)) {
      const owners = Array.isArray(pod.metadata.ownerReferences) ? pod.metadata.ownerReferences : [];
      if (owners.some((o) => isObject(o) && o.uid === obj.metadata.uid)) {
        this.api.store.remove(podKind, namespace, pod.metadata.name);
      }
    }
    const labels = isObject(tmeta.labels) ? (tmeta.labels as Record<string, string>) : {};
    for (let i = 0; i < desired; i++) {
      const podName =
        kind.kind === "StatefulSet" ? `${name}-${i}` : `${name}-${hash}-${randomBytes(3).toString("hex").slice(0, 5)}`;
      this.createPod(kind, obj, podName, hash, labels, containers, behaviour);
    }
    const ready = behaviour === "ready" ? desired : 0;
    const status: JsonObject = {
      observedGeneration: obj.metadata.generation ?? 1,
      replicas: desired,
      ...(kind.kind === "ReplicationController" ? { fullyLabeledReplicas: desired } : { updatedReplicas: desired }),
      ...(ready > 0 ? { readyReplicas: ready, availableReplicas: ready } : { unavailableReplicas: desired }),
      conditions:
        kind.kind === "Deployment"
          ? [
              {
                type: "Available",
                status: ready === desired ? "True" : "False",
                reason: ready === desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                lastTransitionTime: now(),
              },
              {
                type: "Progressing",
                status: "True",
                reason: ready === desired ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                lastTransitionTime: now(),
              },
            ]
          : [],
      ...(kind.kind === "StatefulSet"
        ? { currentReplicas: desired, currentRevision: `${name}-${hash}`, updateRevision: `${name}-${hash}` }
        : {}),
    };
    this.api.writeStatus(kind, obj, status);
  }

  private createPod(
    kind: KindSpec,
    owner: KubeObj,
    podName: string,
    hash: string,
    labels: Record<string, string>,
    containers: Container[],
    behaviour: WorkloadBehaviour,
  ): void {
    const namespace = owner.metadata.namespace ?? "";
    const nsObj = this.api.store.get(this.kind("v1", "Namespace"), undefined, namespace);
    if (!nsObj || nsObj.metadata.deletionTimestamp) return;
    const failing = behaviour === "ready" ? undefined : behaviour;
    const failName = failing?.container ?? containers[0]?.name;
    const imageFailure = failing !== undefined && IMAGE_REASONS.includes(failing.fail);
    const ownerRef =
      kind.kind === "Deployment"
        ? {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: `${owner.metadata.name}-${hash}`,
            uid: String(owner.metadata.uid),
            controller: true,
            blockOwnerDeletion: true,
          }
        : {
            apiVersion: kind.kind === "ReplicationController" ? "v1" : "apps/v1",
            kind: kind.kind,
            name: owner.metadata.name,
            uid: String(owner.metadata.uid),
            controller: true,
            blockOwnerDeletion: true,
          };
    const statuses: JsonObject[] = containers.map((c): JsonObject => {
      if (c.name !== failName || !failing)
        return {
          name: c.name,
          image: c.image,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now() } },
        };
      return {
        name: c.name,
        image: c.image,
        ready: false,
        restartCount: imageFailure ? 0 : 3,
        started: false,
        state: {
          waiting: { reason: failing.fail, message: failing.message ?? `${failing.fail} for container ${c.name}` },
        },
        ...(imageFailure
          ? {}
          : { lastState: { terminated: { exitCode: 1, reason: "Error", startedAt: now(), finishedAt: now() } } }),
      };
    });
    const uid = randomUUID();
    const pod: KubeObj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: podName,
        namespace,
        uid,
        labels: {
          ...labels,
          ...(kind.kind === "Deployment"
            ? { "pod-template-hash": hash }
            : { "statefulset.kubernetes.io/pod-name": podName }),
        },
        ownerReferences: [ownerRef],
        creationTimestamp: now(),
        generation: 1,
      },
      spec: { containers: containers.map((c) => ({ name: c.name, image: c.image })) },
      status: {
        phase: failing && imageFailure ? "Pending" : "Running",
        conditions: [{ type: "Ready", status: failing ? "False" : "True", lastTransitionTime: now() }],
        containerStatuses: statuses,
      },
    };
    this.api.store.write(this.kind("v1", "Pod"), pod);
    if (!failing || !failName) return;
    if (failing.log !== undefined) this.logs.set(`${namespace}/${podName}/${failName}`, failing.log);
    const image = containers.find((c) => c.name === failName)?.image ?? "";
    const events: Array<[string, string]> = imageFailure
      ? [
          ["Failed", failing.message ?? `Failed to pull image "${image}": not found`],
          ["BackOff", `Back-off pulling image "${image}"`],
        ]
      : failing.fail === "CrashLoopBackOff"
        ? [
            [
              "BackOff",
              failing.message ??
                `Back-off restarting failed container ${failName} in pod ${podName}_${namespace}(${uid})`,
            ],
          ]
        : [[failing.fail, failing.message ?? failing.fail]];
    for (const [reason, message] of events)
      this.event(
        namespace,
        { kind: "Pod", name: podName, uid, fieldPath: `spec.containers{${failName}}` },
        reason,
        message,
      );
  }

  private event(
    namespace: string,
    involved: { kind: string; name: string; uid: string; fieldPath?: string },
    reason: string,
    message: string,
  ): void {
    const ts = now();
    this.api.store.write(this.kind("v1", "Event"), {
      apiVersion: "v1",
      kind: "Event",
      metadata: {
        name: `${involved.name}.${randomBytes(8).toString("hex")}`,
        namespace,
        uid: randomUUID(),
        creationTimestamp: ts,
      },
      involvedObject: { apiVersion: "v1", namespace, ...involved },
      reason,
      message,
      type: "Warning",
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      source: { component: "kubelet" },
    });
  }

  close(): void {
    this.unsubscribe();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
