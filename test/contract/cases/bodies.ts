/**
 * Contract cases: what an apply body may carry (server-owned metadata), immutable fields, key validation, and the
 * Status bodies of 404, 409 and 422 — exactly as kube-apiserver v1.37 answers them.
 */
import { expect } from "@jest/globals";
import { causes, configMap, deployment, job, paths, type Body, type ContractCase } from "../client.js";

const FOREIGN_UID = "6a5e2d57-0000-4000-8000-000000000000";

export const BODY_CASES: ContractCase[] = [
  {
    name: "an apply body carrying managedFields is a 400, even an empty list",
    async run({ api, ns }) {
      const entry = {
        manager: "x",
        operation: "Apply",
        apiVersion: "v1",
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": {} },
      };
      for (const managedFields of [[entry], []]) {
        const r = await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1" }, { managedFields }), "ct-a");
        expect(r).toMatchObject({
          code: 400,
          body: { kind: "Status", reason: "BadRequest", message: "metadata.managedFields must be nil" },
        });
      }
    },
  },
  {
    name: "an apply body's resourceVersion is a precondition: stale is a 409, current passes",
    async run({ api, ns }) {
      const created = await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1" }), "ct-a");
      await api.apply(paths.cm(ns, "c"), configMap("c", { a: "2" }), "ct-a");
      const stale = await api.apply(
        paths.cm(ns, "c"),
        configMap("c", { a: "3" }, { resourceVersion: created.body.metadata.resourceVersion }),
        "ct-a",
      );
      expect(stale.code).toBe(409);
      expect(stale.body).toMatchObject({
        reason: "Conflict",
        message:
          'Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again',
        details: { name: "c", kind: "configmaps" },
      });
      const current = (await api.get(paths.cm(ns, "c"))).body.metadata.resourceVersion as string;
      expect(
        (await api.apply(paths.cm(ns, "c"), configMap("c", { a: "3" }, { resourceVersion: current }), "ct-a")).code,
      ).toBe(200);
    },
  },
  {
    name: "an apply body's uid must be the object's: foreign on an existing object is a 422, on a new one a 409",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1" }), "ct-a");
      const existing = await api.apply(paths.cm(ns, "c"), configMap("c", { a: "1" }, { uid: FOREIGN_UID }), "ct-a");
      expect(existing.code).toBe(422);
      expect(causes(existing.body)).toEqual([`metadata.uid: Invalid value: "${FOREIGN_UID}": field is immutable`]);
      const fresh = await api.apply(paths.cm(ns, "new"), configMap("new", { a: "1" }, { uid: FOREIGN_UID }), "ct-a");
      expect(fresh.code).toBe(409);
      expect(fresh.body.message).toBe(
        `Operation cannot be fulfilled on configmaps "new": uid mismatch: the provided object specified uid ${FOREIGN_UID}, and no existing object was found`,
      );
    },
  },
  {
    name: "creationTimestamp and status in an apply body are ignored (status is a subresource)",
    async run({ api, ns }) {
      const d: Body = { ...deployment("web", "img:1"), status: { replicas: 5, readyReplicas: 5 } };
      d.metadata.creationTimestamp = "2020-01-01T00:00:00Z";
      const r = await api.apply(paths.deploy(ns, "web"), d, "ct-a");
      expect(r.code).toBe(201);
      expect(r.body.metadata.creationTimestamp).not.toBe("2020-01-01T00:00:00Z");
      expect(r.body.status?.readyReplicas).toBeUndefined();
      expect(Object.keys(r.body.metadata.managedFields[0].fieldsV1 as Body)).toEqual(["f:spec"]);
    },
  },
  {
    name: "a Job's spec.template is immutable: a changed image is a 422, the same Job re-applies cleanly",
    async run({ api, ns }) {
      expect((await api.apply(paths.job(ns, "migrate"), job("migrate", "img:1"), "ct-a")).code).toBe(201);
      expect((await api.apply(paths.job(ns, "migrate"), job("migrate", "img:1"), "ct-a")).code).toBe(200);
      const r = await api.apply(paths.job(ns, "migrate"), job("migrate", "img:2"), "ct-a", true);
      expect(r.code).toBe(422);
      expect(r.body).toMatchObject({ reason: "Invalid", details: { name: "migrate", group: "batch", kind: "Job" } });
      expect(r.body.message).toMatch(
        /^Job\.batch "migrate" is invalid: spec\.template: Invalid value: .*: field is immutable$/s,
      );
      expect(r.body.details.causes).toEqual([
        {
          reason: "FieldValueInvalid",
          field: "spec.template",
          message: expect.stringMatching(/: field is immutable$/),
        },
      ]);
    },
  },
  {
    name: "a Deployment's spec.selector and a StatefulSet's serviceName are immutable (422)",
    async run({ api, ns }) {
      await api.apply(paths.deploy(ns, "web"), deployment("web", "img:1"), "ct-a");
      const d = await api.apply(paths.deploy(ns, "web"), deployment("web", "img:1", { app: "other" }), "ct-a", true);
      expect(d.code).toBe(422);
      expect(d.body.message).toBe(
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable',
      );
      const sts = (serviceName: string): Body => ({
        ...deployment("db", "img:1"),
        kind: "StatefulSet",
        spec: { ...(deployment("db", "img:1").spec as Body), serviceName },
      });
      expect((await api.apply(paths.sts(ns, "db"), sts("a"), "ct-a")).code).toBe(201);
      const s = await api.apply(paths.sts(ns, "db"), sts("b"), "ct-a", true);
      expect(s.code).toBe(422);
      expect(s.body.message).toBe(
        'StatefulSet.apps "db" is invalid: spec.serviceName: Invalid value: "b": field is immutable',
      );
    },
  },
  {
    name: "a Service's clusterIP is allocated once and may not change (422)",
    async run({ api, ns }) {
      const svc = (clusterIP?: string): Body => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "s" },
        spec: { ...(clusterIP ? { clusterIP } : {}), ports: [{ port: 80 }] },
      });
      const created = await api.apply(paths.svc(ns, "s"), svc(), "ct-a");
      expect(created.code).toBe(201);
      const ip = created.body.spec.clusterIP as string;
      expect(ip).toMatch(/^10\.96\.\d+\.\d+$/);
      expect(created.body.spec.clusterIPs).toEqual([ip]);
      expect((await api.apply(paths.svc(ns, "s"), svc(), "ct-a")).body.spec.clusterIP).toBe(ip);
      const other = ip === "10.96.200.200" ? "10.96.200.201" : "10.96.200.200";
      const r = await api.apply(paths.svc(ns, "s"), svc(other), "ct-a", true);
      expect(r.code).toBe(422);
      expect(r.body.message).toBe(
        `Service "s" is invalid: spec.clusterIPs[0]: Invalid value: ["${other}"]: may not change once set`,
      );
    },
  },
  {
    name: "an immutable ConfigMap's data may not change, and a PVC's spec only in resources.requests (422)",
    async run({ api, ns }) {
      await api.apply(paths.cm(ns, "frozen"), { ...configMap("frozen", { a: "1" }), immutable: true }, "ct-a");
      const cm = await api.apply(
        paths.cm(ns, "frozen"),
        { ...configMap("frozen", { a: "2" }), immutable: true },
        "ct-a",
      );
      expect(cm.code).toBe(422);
      expect(cm.body.message).toBe(
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
      );
      const pvc = (mode: string, size: string): Body => ({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "p" },
        spec: { accessModes: [mode], storageClassName: "ct-none", resources: { requests: { storage: size } } },
      });
      expect((await api.apply(paths.pvc(ns, "p"), pvc("ReadWriteOnce", "1Gi"), "ct-a")).code).toBe(201);
      const r = await api.apply(paths.pvc(ns, "p"), pvc("ReadWriteMany", "1Gi"), "ct-a");
      expect(r.code).toBe(422);
      expect(r.body.details.causes).toEqual([
        {
          reason: "FieldValueForbidden",
          field: "spec",
          message: expect.stringMatching(
            /^Forbidden: spec is immutable after creation except resources\.requests and volumeAttributesClassName for bound claims/,
          ),
        },
      ]);
    },
  },
  {
    name: "invalid label values and annotation keys are a 422 naming each, labels first",
    async run({ api, ns }) {
      const r = await api.apply(
        paths.cm(ns, "c"),
        configMap("c", {}, { labels: { ok: "bad value!" }, annotations: { "bad key!": "x" } }),
        "ct-a",
      );
      expect(r.code).toBe(422);
      expect(r.body.details.causes).toEqual([
        {
          reason: "FieldValueInvalid",
          field: "metadata.labels",
          message: `Invalid value: "bad value!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
        },
        {
          reason: "FieldValueInvalid",
          field: "metadata.annotations",
          message: `Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
        },
      ]);
      const prefix = await api.apply(
        paths.cm(ns, "c"),
        configMap("c", {}, { annotations: { "Bad_Prefix/x": "1" } }),
        "ct-a",
      );
      expect(causes(prefix.body)).toEqual([
        `metadata.annotations: Invalid value: "Bad_Prefix/x": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      ]);
      const long = await api.apply(
        paths.cm(ns, "c"),
        configMap("c", {}, { labels: { ["k".repeat(64)]: "v" } }),
        "ct-a",
      );
      expect(causes(long.body)).toEqual([
        `metadata.labels: Invalid value: "${"k".repeat(64)}": name part must be no more than 63 bytes`,
      ]);
    },
  },
  {
    name: "404 bodies: an object, a group's object, a missing namespace, an unknown resource",
    async run({ api, ns }) {
      expect(await api.get(paths.cm(ns, "nope"))).toMatchObject({
        code: 404,
        body: {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "NotFound",
          code: 404,
          message: 'configmaps "nope" not found',
          details: { name: "nope", kind: "configmaps" },
        },
      });
      const grouped = await api.get(paths.deploy(ns, "nope"));
      expect(grouped.body).toMatchObject({
        message: 'deployments.apps "nope" not found',
        details: { name: "nope", group: "apps", kind: "deployments" },
      });
      const noNs = await api.post(paths.cm("ct-no-such-namespace"), configMap("x", {}));
      expect(noNs).toMatchObject({
        code: 404,
        body: {
          message: 'namespaces "ct-no-such-namespace" not found',
          details: { name: "ct-no-such-namespace", kind: "namespaces" },
        },
      });
      expect(await api.get(`/api/v1/namespaces/${ns}/widgets`)).toMatchObject({
        code: 404,
        body: { reason: "NotFound", message: "the server could not find the requested resource", details: {} },
      });
    },
  },
  {
    name: "409 bodies: AlreadyExists on create, Conflict on an update with a stale resourceVersion",
    async run({ api, ns }) {
      const created = await api.post(paths.cm(ns), configMap("c", { a: "1" }));
      expect(created.code).toBe(201);
      expect(await api.post(paths.cm(ns), configMap("c", {}))).toMatchObject({
        code: 409,
        body: {
          reason: "AlreadyExists",
          message: 'configmaps "c" already exists',
          details: { name: "c", kind: "configmaps" },
        },
      });
      await api.put(paths.cm(ns, "c"), configMap("c", { a: "2" }));
      const stale = await api.put(
        paths.cm(ns, "c"),
        configMap("c", { a: "3" }, { resourceVersion: created.body.metadata.resourceVersion }),
      );
      expect(stale).toMatchObject({
        code: 409,
        body: {
          reason: "Conflict",
          message:
            'Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again',
        },
      });
    },
  },
  {
    name: "422 bodies: an invalid name, with the kind, the field and the regex",
    async run({ api, ns }) {
      const r = await api.post(paths.cm(ns), configMap("Bad_Name", {}));
      expect(r.code).toBe(422);
      expect(r.body).toMatchObject({ reason: "Invalid", details: { name: "Bad_Name", kind: "ConfigMap" } });
      expect(r.body.message).toBe(
        `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      );
      const svc = await api.post(paths.svc(ns), {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "a.b" },
        spec: { ports: [{ port: 80 }] },
      });
      expect(causes(svc.body)).toContain('metadata.name: Invalid value: "a.b": must not contain dots');
    },
  },
  {
    name: "an empty list in a built-in object does not survive storage (ClusterRole rules: [] reads back as null)",
    realOnly:
      "the fake stores JSON as sent; which empty lists vanish depends on each Go type's omitempty, and the bot never reads one back",
    async run({ api, ns }) {
      const name = `${ns}-empty`;
      const r = await api.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name },
        rules: [],
      });
      expect(r.code).toBe(201);
      expect(r.body.rules ?? null).toBeNull();
      await api.delete(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`);
    },
  },
  {
    name: "a JSON patch (RFC 6902) updates an object",
    realOnly: "the bot sends only server-side apply and merge patches; the fake answers a JSON patch with 415",
    async run({ api, ns }) {
      await api.post(paths.cm(ns), configMap("c", { a: "1" }));
      const r = await api.call(
        "PATCH",
        paths.cm(ns, "c"),
        [{ op: "replace", path: "/data/a", value: "2" }],
        "application/json-patch+json",
      );
      expect(r).toMatchObject({ code: 200, body: { data: { a: "2" } } });
    },
  },
];
