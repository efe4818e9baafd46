/** The naming module's templates, taken from a repository's `.github/preview.yml`. */
import type { PreviewConfig } from "../../config.js";
import { previewNames, type NameTemplates } from "../naming.js";
import type { PreviewNames, PreviewRef } from "../preview.js";

export function nameTemplatesFromConfig(config: PreviewConfig): NameTemplates {
  const route = config.route;
  return {
    namespace: config.names.namespace,
    ...(config.names.host ? { hostLabel: config.names.host } : {}),
    ...(route?.host ? { host: route.host } : {}),
    ...(route?.baseUrl ? { baseUrl: route.baseUrl } : {}),
    ...(route?.pathPrefix ? { pathPrefix: route.pathPrefix } : {}),
    secret: config.database.secret.name,
    scheme: route?.scheme ?? "https",
  };
}

/** `previewNames(ref, nameTemplatesFromConfig(config))`. */
export function previewNamesFor(ref: PreviewRef, config: PreviewConfig): PreviewNames {
  return previewNames(ref, nameTemplatesFromConfig(config));
}
