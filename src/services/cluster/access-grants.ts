/**
 * The objects protected previews need in the bot's own namespace: Gateway API ReferenceGrants that let a preview's
 * HTTPRoute filter or Envoy Gateway SecurityPolicy reach the bot's Service (a cross-namespace reference is allowed only
 * by a grant in the referenced namespace). Only ReferenceGrants, only in the bot's namespace, only carrying the
 * preview's ownership labels: `sync` applies the preview's (server-side apply, preview-bot's field manager) and deletes
 * its others (after a switch to `access: public` or another gateway, and at teardown with none). A cluster that does
 * not serve ReferenceGrant has none to delete.
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { PatchStrategy } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import { MANAGED_BY } from "../shared/labels.js";
import type { AccessGrants } from "../shared/preview.js";
import { isNotFound, kubeError } from "./kube-errors.js";
import { isOurs, ObjectApi, selectorOf } from "./support.js";

const GRANT = { apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "ReferenceGrant" };

export interface AccessGrantOptions {
  kubeConfig: KubeConfig;
  /** The bot's own namespace (BOT_NAMESPACE), where the grants live. */
  namespace: string;
  fieldManager?: string;
  logger: Logger;
}

export function createAccessGrants(o: AccessGrantOptions): AccessGrants {
  const objects = o.kubeConfig.makeApiClient(ObjectApi);
  const fieldManager = o.fieldManager ?? "preview-bot";
  const log = o.logger.child({ component: "access-grants" });
  const name = (g: { metadata?: { name?: string } }) => `ReferenceGrant "${o.namespace}/${g.metadata?.name ?? ""}"`;

  return {
    async sync(selector, wanted) {
      const doing = `syncing the preview's ReferenceGrants in namespace "${o.namespace}"`;
      for (const g of wanted) {
        const labels = g.metadata.labels ?? {};
        const mismatch = Object.entries(selector).find(([k, v]) => labels[k] !== v);
        if (
          g.apiVersion !== GRANT.apiVersion ||
          g.kind !== GRANT.kind ||
          g.metadata.namespace !== o.namespace ||
          mismatch
        )
          throw new Error(
            `${doing}: refusing ${g.kind} "${g.metadata.namespace ?? ""}/${g.metadata.name ?? ""}": only this preview's ReferenceGrants in the bot's namespace`,
          );
      }
      let existing: KubernetesObject[] = [];
      try {
        existing = (
          await objects.list(
            GRANT.apiVersion,
            GRANT.kind,
            o.namespace,
            undefined,
            undefined,
            undefined,
            undefined,
            selectorOf({ ...selector, ...MANAGED_BY }),
          )
        ).items;
      } catch (err) {
        // Not served (no Gateway API): nothing of ours can exist; wanting some is an error the apply below reports.
        if (!isNotFound(err)) throw kubeError(`${doing}: listing`, err);
      }
      const applied: string[] = [];
      for (const g of wanted) {
        try {
          await objects.patch(g, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
        } catch (err) {
          throw kubeError(`${doing}: applying ${name(g)}`, err);
        }
        applied.push(name(g));
      }
      const keep = new Set(wanted.map((g) => g.metadata.name));
      const deleted: string[] = [];
      for (const g of existing) {
        if (keep.has(g.metadata?.name) || !isOurs(g.metadata?.labels)) continue;
        try {
          await objects.delete({ ...GRANT, metadata: { name: g.metadata?.name ?? "", namespace: o.namespace } });
        } catch (err) {
          if (!isNotFound(err)) throw kubeError(`${doing}: deleting ${name(g)}`, err);
        }
        deleted.push(name(g));
        log.info({ grant: g.metadata?.name }, "removed a preview's ReferenceGrant");
      }
      return { applied, deleted };
    },
  };
}
