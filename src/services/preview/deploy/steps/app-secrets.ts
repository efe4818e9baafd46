/**
 * App secrets: each `secrets[]` entry with `from` is copied from its source namespace (one the operator allows in
 * PREVIEW_SECRET_SOURCES; the render checked it and says what will be copied) into the preview as a Secret of the
 * bot's own, applied before any hook. The values are read here, in the bot, never by the renderer; each is
 * registered with the logger's redaction before anything else happens to it, and the step's detail names only
 * Secrets and keys. A fork's pull request gets none unless PREVIEW_SECRETS_FOR_FORKS (the render said so too).
 */
import { registerSecret } from "../../../../logger.js";
import type { KubeObject } from "../../../shared/preview.js";
import { allows, secretsFor } from "../../render/app-secrets.js";
import type { DeployStep } from "../context.js";

export const appSecretsStep: DeployStep = {
  name: "App secrets",
  skip: ({ config, ref, deps }) => {
    if (!config.secrets.some((e) => e.from)) return "no secrets to copy (secrets[].from)";
    if (!secretsFor(ref.fork, { forks: deps.appSecrets?.forks === true }))
      return "a pull request from a fork gets no app secrets (PREVIEW_SECRETS_FOR_FORKS)";
    return undefined;
  },
  async run(ctx, detail) {
    const { deps, config, names, ref } = ctx;
    const repository = `${ref.owner}/${ref.repo}`;
    const copied: string[] = [];
    for (const [i, e] of config.secrets.entries()) {
      if (!e.from) continue;
      const as = e.as ?? e.name;
      const doing = `copying secrets[${i}] (Secret "${e.from}/${e.name}") into ${names.namespace} as "${as}"`;
      // The render refused this already; checked again here, where the values are read.
      if (!allows(deps.appSecrets?.sources ?? [], e.from, repository))
        throw new Error(
          `${doing}: namespace "${e.from}" is not a source allowed for ${repository} (PREVIEW_SECRET_SOURCES)`,
        );
      const source = await deps.cluster.readSecret(e.from, e.name).catch((err: unknown) => {
        throw new Error(doing, { cause: err });
      });
      if (!source) throw new Error(`${doing}: it does not exist (the operator creates it there)`);
      for (const v of Object.values(source.data)) {
        registerSecret(Buffer.from(v, "base64").toString("utf8"));
        registerSecret(v);
      }
      const missing = (e.keys ?? []).filter((k) => !(k in source.data));
      if (missing.length)
        throw new Error(
          `${doing}: it has no key ${missing.map((k) => `"${k}"`).join(", ")} (it has ${Object.keys(source.data).join(", ") || "none"})`,
        );
      const data = e.keys ? Object.fromEntries(e.keys.map((k) => [k, source.data[k]!])) : source.data;
      const secret: KubeObject = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: as,
          namespace: names.namespace,
          labels: { ...names.labels },
          annotations: { ...names.annotations, "preview-bot.dev/copied-from": `${e.from}/${e.name}` },
        },
        type: source.type,
        data,
      };
      ctx.objects.unshift(secret);
      ctx.ownObjects.push(secret);
      copied.push(`"${as}" (${Object.keys(data).length} keys, from ${e.from}/${e.name})`);
    }
    detail(`copied ${copied.join(", ")}; values never shown`);
  },
};
