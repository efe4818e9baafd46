/**
 * Contract cases: API discovery of CRDs — one created by the case (served once Established, gone from discovery when
 * deleted) and the ones every run installs (Gateway API and the overlay's CRDs vendored in test/fixtures/crds).
 */
import { expect } from "@jest/globals";
import { paths, until, type Body, type ContractCase } from "../client.js";

const resource = (list: Body, plural: string): Body | undefined =>
  (list.resources as Body[] | undefined)?.find((r) => r.name === plural);

export const CRD_CASES: ContractCase[] = [
  {
    name: "a created CRD is served in discovery once Established, with its scope and status subresource, and goes when deleted",
    timeoutMs: 120_000,
    async run({ api, ns }) {
      const group = `${ns}.example.com`;
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      };
      const created = await api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
      expect(created.code).toBe(201);
      await until("the CRD Established", async () => {
        const got = (await api.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`)).body;
        return (got.status?.conditions as Body[] | undefined)?.some(
          (c) => c.type === "Established" && c.status === "True",
        )
          ? true
          : undefined;
      });
      const list = await until("widgets in discovery", async () => {
        const r = await api.get(`/apis/${group}/v1`);
        return r.code === 200 && resource(r.body, "widgets") ? r.body : undefined;
      });
      expect(list).toMatchObject({ kind: "APIResourceList", groupVersion: `${group}/v1` });
      expect(resource(list, "widgets")).toMatchObject({
        name: "widgets",
        singularName: "widget",
        namespaced: true,
        kind: "Widget",
      });
      expect(resource(list, "widgets/status")).toMatchObject({ namespaced: true, kind: "Widget" });
      const groups = (await api.get("/apis")).body.groups as Body[];
      expect(groups.find((g) => g.name === group)).toMatchObject({
        versions: [{ groupVersion: `${group}/v1`, version: "v1" }],
        preferredVersion: { version: "v1" },
      });
      const w = await api.apply(
        `/apis/${group}/v1/namespaces/${ns}/widgets/w`,
        { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } },
        "ct-a",
      );
      expect(w.code).toBe(201);
      expect((await api.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`)).code).toBe(
        200,
      );
      await until("widgets out of discovery", async () =>
        (await api.get(`/apis/${group}/v1`)).code === 404 ? true : undefined,
      );
    },
  },
  {
    name: "the overlay's CRDs are served namespaced: HTTPRoute, SecretProviderClass, ServiceMonitor, HealthCheckPolicy",
    async run({ api, ns }) {
      const wanted: Array<[string, string, string]> = [
        ["gateway.networking.k8s.io/v1", "httproutes", "HTTPRoute"],
        ["secrets-store.csi.x-k8s.io/v1", "secretproviderclasses", "SecretProviderClass"],
        ["monitoring.coreos.com/v1", "servicemonitors", "ServiceMonitor"],
        ["alb.networking.azure.io/v1", "healthcheckpolicies", "HealthCheckPolicy"],
      ];
      for (const [gv, plural, kind] of wanted) {
        // Installed and Established by the test setup; discovery may take a moment longer to serve a new group.
        const list = await until(`${gv} ${plural} in discovery`, async () => {
          const r = await api.get(`/apis/${gv}`);
          return r.code === 200 && resource(r.body, plural) ? r.body : undefined;
        });
        expect(resource(list, plural)).toMatchObject({ name: plural, namespaced: true, kind });
      }
      const route = {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "r" },
        spec: { hostnames: ["pr-1.example.com"], rules: [{ backendRefs: [{ name: "web", port: 80 }] }] },
      };
      expect(
        (await api.apply(`/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/r`, route, "ct-a")).code,
      ).toBe(201);
      expect((await api.get(paths.ns(ns))).code).toBe(200);
    },
  },
];
