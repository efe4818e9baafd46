/**
 * Contract cases: server-side apply — create, update, field removal, shared ownership, conflicts with another
 * manager, `force`, and how a merge patch (an `Update`, like `/preview extend` setting the expiry) changes who owns a
 * field. The expectations are what kube-apiserver v1.37 answers; the fake must answer the same.
 */
import { expect } from "@jest/globals";
import { causes, configMap, deployment, managerEntry, paths, type ContractCase } from "../client.js";

export const APPLY_CASES: ContractCase[] = [
  {
    name: "SSA creates an object (201) and records the applier's fields as an Apply entry",
    async run({ api, ns }) {
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1", y: "2" }, { labels: { l: "1" } }), "ct-a");
      expect(r.code).toBe(201);
      expect(r.body.data).toEqual({ x: "1", y: "2" });
      expect(managerEntry(r.body, "ct-a")).toMatchObject({
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": { "f:x": {}, "f:y": {} }, "f:metadata": { "f:labels": { "f:l": {} } } },
      });
    },
  },
  {
    name: "SSA updates in place (200): same uid, generation bumped by a spec change, not by a no-op",
    async run({ api, ns }) {
      const first = await api.apply(paths.deploy(ns, "web"), deployment("web", "img:1"), "ct-a");
      expect(first.code).toBe(201);
      const second = await api.apply(paths.deploy(ns, "web"), deployment("web", "img:2"), "ct-a");
      expect(second.code).toBe(200);
      expect(second.body.metadata.uid).toBe(first.body.metadata.uid);
      expect(second.body.metadata.generation).toBe(2);
      const same = await api.apply(paths.deploy(ns, "web"), deployment("web", "img:2"), "ct-a");
      expect(same.body.metadata.generation).toBe(2);
    },
  },
  {
    name: "SSA removes a field its manager stops applying",
    async run({ api, ns }) {
      await api.apply(
        paths.cm(ns, "c"),
        configMap("c", { x: "1", y: "2" }, { annotations: { a: "1", b: "2" } }),
        "ct-a",
      );
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1" }, { annotations: { a: "1" } }), "ct-a");
      expect(r.body.data).toEqual({ x: "1" });
      expect(r.body.metadata.annotations).toEqual({ a: "1" });
    },
  },
  {
    name: "`data: {}` removes the keys the manager owned (the map is then omitted)",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1", y: "2" }), "ct-a");
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", {}), "ct-a");
      expect(r.code).toBe(200);
      expect(r.body.data).toBeUndefined();
      expect(managerEntry(r.body, "ct-a")?.fieldsV1).toEqual({ "f:data": {} });
    },
  },
  {
    name: "a field two managers applied with the same value is shared: it survives when one of them drops it",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1", y: "2" }), "ct-a");
      const shared = await api.apply(paths.cm(ns, "c"), configMap("c", { y: "2" }), "ct-b");
      expect(shared.code).toBe(200);
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1" }), "ct-a");
      expect(r.body.data).toEqual({ x: "1", y: "2" });
      const gone = await api.apply(paths.cm(ns, "c"), configMap("c", {}), "ct-b");
      expect(gone.body.data).toEqual({ x: "1" });
    },
  },
  {
    name: "applying another manager's field with a new value is a 409 FieldManagerConflict, and nothing changes",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1", y: "2" }), "ct-a");
      const one = await api.apply(paths.cm(ns, "c"), configMap("c", { x: "9" }), "ct-b");
      expect(one.code).toBe(409);
      expect(one.body).toMatchObject({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Conflict",
        code: 409,
        message: 'Apply failed with 1 conflict: conflict with "ct-a": .data.x',
      });
      expect(one.body.details.causes).toEqual([
        { reason: "FieldManagerConflict", message: 'conflict with "ct-a"', field: ".data.x" },
      ]);
      const two = await api.apply(paths.cm(ns, "c"), configMap("c", { x: "9", y: "8", z: "1" }), "ct-b");
      expect(two.code).toBe(409);
      expect(two.body.message).toBe('Apply failed with 2 conflicts: conflicts with "ct-a":\n- .data.x\n- .data.y');
      expect(causes(two.body)).toEqual(['.data.x: conflict with "ct-a"', '.data.y: conflict with "ct-a"']);
      expect((await api.get(paths.cm(ns, "c"))).body.data).toEqual({ x: "1", y: "2" });
    },
  },
  {
    name: "force takes the field over: the previous manager no longer owns it, so its next apply without it keeps the value",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { x: "1", y: "2" }), "ct-a");
      const forced = await api.apply(paths.cm(ns, "c"), configMap("c", { x: "9" }), "ct-b", true);
      expect(forced.code).toBe(200);
      expect(forced.body.data).toEqual({ x: "9", y: "2" });
      expect(managerEntry(forced.body, "ct-a")?.fieldsV1).toEqual({ "f:data": { "f:y": {} } });
      expect(managerEntry(forced.body, "ct-b")?.fieldsV1).toEqual({ "f:data": { "f:x": {} } });
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", {}), "ct-a");
      expect(r.body.data).toEqual({ x: "9" });
    },
  },
  {
    name: "a merge patch that changes an applied field takes it from the applier (the applier's next apply cannot remove it)",
    async run({ api, ns }) {
      // The shape of `/preview extend`: the deploy applies the expiry, a merge patch moves it later.
      await api.apply(
        paths.cm(ns, "c"),
        configMap("c", undefined, { annotations: { "example.com/expires-at": "1", "example.com/url": "u" } }),
        "ct-bot",
      );
      const patched = await api.merge(
        paths.cm(ns, "c"),
        { metadata: { annotations: { "example.com/expires-at": "2", "example.com/url": "u" } } },
        "ct-bot",
      );
      expect(patched.code).toBe(200);
      // Only the changed field moved to the Update entry; an unchanged one stays the applier's alone.
      expect(managerEntry(patched.body, "ct-bot", "Update")?.fieldsV1).toEqual({
        "f:metadata": { "f:annotations": { "f:example.com/expires-at": {} } },
      });
      expect(managerEntry(patched.body, "ct-bot")?.fieldsV1).toEqual({
        "f:metadata": { "f:annotations": { "f:example.com/url": {} } },
      });
      const r = await api.apply(
        paths.cm(ns, "c"),
        configMap("c", undefined, { annotations: { "example.com/url": "u" } }),
        "ct-bot",
      );
      expect(r.body.metadata.annotations).toEqual({ "example.com/expires-at": "2", "example.com/url": "u" });
    },
  },
  {
    name: "an applier conflicts with its own merge patches (the Update entry is another manager, named with its version)",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1" }), "ct-bot");
      await api.merge(paths.cm(ns, "c"), { data: { a: "2" } }, "ct-bot");
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", { a: "3" }), "ct-bot");
      expect(r.code).toBe(409);
      expect(r.body.message).toBe('Apply failed with 1 conflict: conflict with "ct-bot" using v1: .data.a');
      expect((await api.apply(paths.cm(ns, "c"), configMap("c", { a: "3" }), "ct-bot", true)).code).toBe(200);
    },
  },
  {
    name: "a field another manager set and the applier never sends is left alone (an autoscaler's replicas)",
    async run({ api, ns }) {
      const d = deployment("web", "img:1");
      await api.apply(paths.deploy(ns, "web"), d, "ct-bot");
      await api.merge(paths.deploy(ns, "web"), { spec: { replicas: 3 } }, "ct-hpa");
      const r = await api.apply(paths.deploy(ns, "web"), deployment("web", "img:2"), "ct-bot");
      expect(r.code).toBe(200);
      expect(r.body.spec.replicas).toBe(3);
      expect(managerEntry(r.body, "ct-hpa", "Update")?.fieldsV1).toEqual({ "f:spec": { "f:replicas": {} } });
      // Sending replicas again conflicts; force wins it back (the fight an HPA and a forcing applier have).
      const fight = await api.apply(paths.deploy(ns, "web"), deployment("web", "img:2", { replicas: 1 }), "ct-bot");
      expect(fight.code).toBe(409);
      expect(fight.body.details.causes).toEqual([
        { reason: "FieldManagerConflict", message: 'conflict with "ct-hpa" using apps/v1', field: ".spec.replicas" },
      ]);
    },
  },
  {
    name: "a merge patch that leaves a value unchanged takes no ownership",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1", b: "2" }), "ct-a");
      const r = await api.merge(paths.cm(ns, "c"), { data: { a: "1", b: "3" } }, "ct-u");
      expect(managerEntry(r.body, "ct-u", "Update")?.fieldsV1).toEqual({ "f:data": { "f:b": {} } });
      const dropped = await api.apply(paths.cm(ns, "c"), configMap("c", {}), "ct-a");
      expect(dropped.body.data).toEqual({ b: "3" });
      expect(managerEntry(dropped.body, "ct-u", "Update")?.fieldsV1).toEqual({ "f:data": { "f:b": {} } });
    },
  },
  {
    name: "an apply with no fields left removes the manager's entry",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1" }), "ct-a");
      await api.apply(paths.cm(ns, "c"), configMap("c", { b: "1" }), "ct-b");
      const r = await api.apply(paths.cm(ns, "c"), configMap("c", undefined), "ct-a");
      expect(r.body.data).toEqual({ b: "1" });
      expect(managerEntry(r.body, "ct-a")).toBeUndefined();
    },
  },
  {
    name: "apply needs a fieldManager (422), apiVersion and kind (400); force is only for apply (422)",
    async run({ api, ns }) {
      const noManager = await api.apply(paths.cm(ns, "c"), configMap("c", {}), undefined);
      expect(noManager.code).toBe(422);
      expect(noManager.body).toMatchObject({
        reason: "Invalid",
        message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      });
      const noKind = await api.apply(paths.cm(ns, "c"), { metadata: { name: "c" } }, "ct-a");
      expect(noKind).toMatchObject({
        code: 400,
        body: { reason: "BadRequest", message: "invalid object type: /, Kind=" },
      });
      await api.apply(paths.cm(ns, "c"), configMap("c", {}), "ct-a");
      const forcedMerge = await api.call(
        "PATCH",
        `${paths.cm(ns, "c")}?fieldManager=x&force=true`,
        { data: { a: "1" } },
        "application/merge-patch+json",
      );
      expect(forcedMerge.code).toBe(422);
      expect(forcedMerge.body.message).toBe(
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
      );
    },
  },
  {
    name: "associative lists merge per key between managers (containers by name)",
    realOnly:
      "the fake treats every list as atomic; the bot applies whole objects with force, so this difference does not reach it",
    async run({ api, ns }) {
      await api.apply(paths.deploy(ns, "web"), deployment("web", "img:1"), "ct-a");
      const sidecar = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web" },
        spec: { template: { spec: { containers: [{ name: "proxy", image: "proxy:1" }] } } },
      };
      const r = await api.apply(paths.deploy(ns, "web"), sidecar, "ct-b");
      expect(r.code).toBe(200);
      expect((r.body.spec.template.spec.containers as Array<{ name: string }>).map((c) => c.name).sort()).toEqual([
        "main",
        "proxy",
      ]);
    },
  },
];
