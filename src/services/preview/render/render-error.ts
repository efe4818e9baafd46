/**
 * Why a render failed, in words a PR author can act on: what was being done and why, e.g.
 * `rendering manifests/overlays/feature with kustomize: <problem>` or
 * `Namespace "x" is cluster-scoped and not allowed in a preview (allowClusterScoped)`. When several things are
 * wrong at once, `problems` lists each (one line each) and the message carries them all. The underlying error, if
 * any, is chained as `cause`.
 */
export class RenderError extends Error {
  override readonly name = "RenderError";
  readonly problems: readonly string[];

  constructor(message: string, options?: { cause?: unknown; problems?: readonly string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.problems = options?.problems ?? [message];
  }
}
