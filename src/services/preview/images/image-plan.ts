/**
 * Which tag each pinned image is looked up by, and how long a deploy waits for it. Pure.
 *
 * An image comes from the render as `repository:tag` (the PR's tag, render/images.ts). When its `images[]` entry lists
 * `paths` and the pull request changes none of them (its changed files, renames by both names, known completely), the
 * preview runs the base branch's image instead: `repository:<baseTag>`, the template expanded for the base branch
 * (`{branch}` is the base branch's name, `{sha}` and `{shortSha}` its commit), without waiting for a build. Otherwise the
 * PR's own tag, waited for up to the entry's `wait` (or the bot's IMAGE_WAIT).
 */
import path from "node:path";
import { DEFAULT_BASE_TAG, type PreviewConfig } from "../../../config.js";
import { TAG_PATTERN } from "../../registry/image-reference.js";
import type { PreviewNames, PreviewRef } from "../../shared/preview.js";
import { expandTemplate, templateValues } from "../naming.js";
import type { PinnedImage } from "../render/index.js";

export interface PlannedImage {
  /** What the containers say now (`repository:prTag`); replaced by the resolved digest. */
  image: string;
  /** The `images[].name` entry that pinned it. */
  entry: string;
  repository: string;
  /** The PR's tag. */
  tag: string;
  /** The base branch's tag, when this image is reused from the base branch (the PR changes none of its paths). */
  baseTag?: string;
  /** How long to wait for the PR's tag to appear. */
  waitMs: number;
  containers: string[];
}

export interface ChangedFiles {
  paths: readonly string[];
  /** False when GitHub could not list them all (it lists at most 3000): then nothing is reused. */
  complete: boolean;
}

export interface PlanInput {
  pinned: readonly PinnedImage[];
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
  base: { branch: string; sha: string };
  /** The PR's changed files; undefined when no entry lists paths (they are not read then). */
  changed?: ChangedFiles;
  /** The bot's IMAGE_WAIT, in ms. */
  defaultWaitMs: number;
}

/** Whether `file` (or a directory it is in) matches the glob: `services/web` matches everything under it. */
export function pathMatches(file: string, glob: string): boolean {
  const g = glob.replace(/\/+$/, "");
  if (path.posix.matchesGlob(file, g)) return true;
  const parts = file.split("/");
  for (let i = 1; i < parts.length; i++) if (path.posix.matchesGlob(parts.slice(0, i).join("/"), g)) return true;
  return false;
}

/** The changed file that touches one of the globs, if any. */
export function touchedBy(changed: readonly string[], globs: readonly string[]): string | undefined {
  return changed.find((f) => globs.some((g) => pathMatches(f, g)));
}

class ImagePlanError extends Error {
  override name = "ImagePlanError";
}

export function planImages(input: PlanInput): PlannedImage[] {
  const { config, ref, names, base, changed } = input;
  const baseValues = templateValues({ ...ref, branch: base.branch, sha: base.sha }, names);
  return input.pinned.map((p) => {
    const entry = config.images.find((i) => i.name === p.entry);
    const planned: PlannedImage = {
      image: p.image,
      entry: p.entry,
      repository: p.repository,
      tag: p.tag,
      waitMs: entry?.wait ?? input.defaultWaitMs,
      containers: [...p.containers],
    };
    if (!entry?.paths || !changed?.complete || touchedBy(changed.paths, entry.paths) !== undefined) return planned;
    const template = entry.baseTag ?? DEFAULT_BASE_TAG;
    let baseTag: string;
    try {
      baseTag = expandTemplate(template, baseValues);
    } catch (err) {
      throw new ImagePlanError(`images: expanding baseTag "${template}" for ${p.entry}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!TAG_PATTERN.test(baseTag))
      throw new ImagePlanError(
        `images: the base tag "${baseTag}" for ${p.entry} (from baseTag "${template}", base branch ${base.branch}) is not a valid image tag`,
      );
    return { ...planned, baseTag };
  });
}

/** Whether any entry asks for the changed files (only then are they read). */
export function needsChangedFiles(config: PreviewConfig): boolean {
  return config.images.some((i) => i.paths !== undefined);
}
