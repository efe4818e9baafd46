/**
 * Why a render failed, in words a PR author can act on: what was being done and why, e.g.
 * `rendering manifests/overlays/feature with kustomize: <stderr>` or
 * `Namespace "x" is cluster-scoped and not allowed in a preview (allowClusterScoped)`. The underlying error, if any,
 * is chained as `cause`.
 */
export class RenderError extends Error {
  override readonly name = "RenderError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
