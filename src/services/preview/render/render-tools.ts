/** Where helm and kustomize are for the render worker: found once on the tool path, by their real paths. */
import { realpath } from "node:fs/promises";
import path from "node:path";
import { findHelm } from "./sandboxed/helm.js";
import { findKustomizeCommand, findOnPath } from "./sandboxed/kustomize.js";

/** The tools the worker may run, found once on the tool path. */
export async function findRenderTools(
  toolPath: string,
  opts: { kustomizeCommand?: string[]; helmCommand?: string } = {},
): Promise<{ kustomize?: string[]; helm?: string; dirs: string[] }> {
  const given = opts.kustomizeCommand;
  const command =
    given && given[0] && !given[0].includes("/")
      ? [(await findOnPath(given[0], toolPath)) ?? given[0], ...given.slice(1)]
      : (given ?? (await findKustomizeCommand(toolPath)));
  const kustomize = command ? [...command] : undefined;
  const found = opts.helmCommand ?? (await findHelm(toolPath));
  // The sandbox shows the worker only the tools' own directories: a tool reached through a link (a linked tools
  // directory, /usr/local/bin/helm → /opt/helm/helm) is named by where it really is, or it is "not found" inside.
  const real = async (p: string | undefined): Promise<string | undefined> =>
    p && path.isAbsolute(p) ? realpath(p).catch(() => p) : p;
  const helm = await real(found);
  if (kustomize?.[0]) kustomize[0] = (await real(kustomize[0]))!;
  const dirs = [kustomize?.[0], helm]
    .filter((p): p is string => p !== undefined && p.includes("/"))
    .map((p) => path.dirname(p));
  return { ...(kustomize ? { kustomize } : {}), ...(helm ? { helm } : {}), dirs: [...new Set(dirs)] };
}
