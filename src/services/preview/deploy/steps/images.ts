/**
 * Images: after the render and before anything is created in the cluster, every image `images[]` pinned is looked
 * up in its registry (one manifest HEAD, never a pull) and the containers are made to run it by digest
 * (images/pin-digests.ts). An image the pull request did not change (none of its entry's `paths` touched) is the base
 * branch's (images/image-plan.ts), found without waiting. A missing one is waited for (images/image-wait.ts): the
 * check run says "waiting for `<image>:<tag>`" and keeps it current, no pod exists meanwhile, the job's queue slot is
 * lent to other previews (parked), a newer push ends the wait (the run's signal), and at the deadline the deploy
 * fails naming the image and the registry's answer. With PREVIEW_IMAGE_PULL_SECRET, the pull secret is added too.
 */
import { formatDuration, formatTtl, shortDigest } from "../../../shared/format.js";
import { pullFiles } from "../../../github/reads.js";
import type { ImageFound } from "../../../registry/image-resolution.js";
import { needsChangedFiles, planImages, type PlannedImage } from "../../images/image-plan.js";
import {
  isWaitable,
  lookUp,
  refusal,
  waitForImages,
  type Resolve,
  type Waitable,
  type WaitingImage,
} from "../../images/image-wait.js";
import { pinDigests, PULL_SECRET_NAME, pullSecretObject, type ResolvedImage } from "../../images/pin-digests.js";
import type { DeployContext, DeployStep } from "../context.js";

const reference = (p: PlannedImage, tag: string) => `${p.repository}:${tag}`;

/** The step's line while it waits: `waiting for \`ghcr.io/acme/web:abc\` (not in ghcr.io yet; 1 min 5 s of 15m)`. */
function waitingText(waiting: readonly WaitingImage[], now: number): string {
  return waiting
    .map((w) => {
      const why = w.answer.outcome === "missing" ? `not in ${w.answer.registry} yet` : w.answer.message;
      return `waiting for \`${w.reference}\` (${why}; ${formatDuration(now - w.since)} of ${formatTtl(w.deadline - w.since)})`;
    })
    .join("; ");
}

function resolvedFrom(p: PlannedImage, found: ImageFound, reusedFrom?: string): ResolvedImage {
  return {
    image: p.image,
    repository: p.repository,
    tag: reusedFrom ? p.baseTag! : p.tag,
    digest: found.digest,
    pinned: found.pinned,
    ...(reusedFrom ? { reusedFrom } : {}),
  };
}

/** Look each image up once; what is found is resolved, what is missing is returned to wait for. */
async function firstLook(ctx: DeployContext, plan: PlannedImage[], resolve: Resolve, notes: string[]) {
  const { pull, signal } = ctx;
  const resolved = new Map<string, ResolvedImage>();
  const missing: Array<{ planned: PlannedImage; answer: Waitable }> = [];
  const answers = await lookUp(
    plan.map((p) => reference(p, p.baseTag ?? p.tag)),
    resolve,
    signal,
  );
  const fallback: PlannedImage[] = [];
  for (const p of plan) {
    const answer = answers.get(reference(p, p.baseTag ?? p.tag))!;
    const refused = refusal(answer);
    if (refused) throw refused;
    if (answer.outcome === "found")
      resolved.set(p.image, resolvedFrom(p, answer, p.baseTag ? pull.baseBranch : undefined));
    else if (p.baseTag) {
      notes.push(`\`${reference(p, p.baseTag)}\` (${pull.baseBranch}'s) is not there: using the PR's own build`);
      fallback.push(p);
    } else missing.push({ planned: p, answer: answer as Waitable });
  }
  if (fallback.length > 0) {
    const own = await lookUp(
      fallback.map((p) => reference(p, p.tag)),
      resolve,
      signal,
    );
    for (const p of fallback) {
      const answer = own.get(reference(p, p.tag))!;
      const refused = refusal(answer);
      if (refused) throw refused;
      const planned = { ...p };
      delete planned.baseTag;
      if (answer.outcome === "found") resolved.set(p.image, resolvedFrom(planned, answer));
      else if (isWaitable(answer)) missing.push({ planned, answer });
    }
  }
  return { resolved, missing };
}

export const imagesStep: DeployStep = {
  name: "Images",
  progress: true,
  skip: (ctx) =>
    ctx.pinned.length === 0 && !ctx.deps.images.pullSecret
      ? ctx.config.images.length === 0
        ? "no images[] in the config"
        : "no container runs an images[] image"
      : undefined,
  async run(ctx, detail) {
    const { deps, config, job, pull, ref, names, report, signal } = ctx;
    const images = deps.images;
    const resolve: Resolve = (r, s) => images.registry.resolve(r, s ? { signal: s } : {});
    const notes: string[] = [];
    const changed =
      ctx.pinned.length > 0 && needsChangedFiles(config)
        ? await pullFiles(ctx.octokit, job.owner, job.repo, job.number)
        : undefined;
    if (changed && !changed.complete)
      notes.push("the PR changes more files than GitHub lists (3000): every image is the PR's own");
    const plan = planImages({
      pinned: ctx.pinned,
      config,
      ref,
      names,
      base: { branch: pull.baseBranch, sha: pull.baseSha },
      ...(changed ? { changed } : {}),
      defaultWaitMs: images.defaultWaitMs,
    });
    const { resolved, missing } = await firstLook(ctx, plan, resolve, notes);

    if (missing.length > 0) {
      const started = Date.now();
      const found = await waitForImages(
        missing.map((m) => ({
          reference: reference(m.planned, m.planned.tag),
          waitMs: m.planned.waitMs,
          answer: m.answer,
        })),
        {
          resolve,
          signal,
          pollMs: images.pollMs,
          maxPollMs: images.maxPollMs,
          park: ctx.park,
          onWaiting: (waiting) => {
            const text = waitingText(waiting, Date.now());
            report.summary = text.charAt(0).toUpperCase() + text.slice(1);
            detail(text);
          },
        },
      );
      report.summary = "";
      notes.push(
        `waited ${formatDuration(Date.now() - started)} for ${missing.map((m) => `\`${reference(m.planned, m.planned.tag)}\``).join(", ")}`,
      );
      for (const m of missing)
        resolved.set(m.planned.image, resolvedFrom(m.planned, found.get(reference(m.planned, m.planned.tag))!));
    }

    const pullSecret = images.pullSecret ? await images.pullSecret() : undefined;
    const clash = pullSecret && ctx.objects.find((o) => o.kind === "Secret" && o.metadata.name === PULL_SECRET_NAME);
    if (clash)
      throw new Error(
        `the render has a Secret named "${PULL_SECRET_NAME}", the name preview-bot gives the image pull secret (PREVIEW_IMAGE_PULL_SECRET): rename it`,
      );
    const { containers } = pinDigests(ctx.objects, resolved, pullSecret ? PULL_SECRET_NAME : undefined);
    if (pullSecret) {
      // The bot's own: applied before any pre-install hook, whose pods pull images too.
      const secret = pullSecretObject(names, pullSecret);
      ctx.objects.push(secret);
      ctx.ownObjects.push(secret);
    }
    report.images = [...resolved.values()].map((r) => ({
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      ...(r.reusedFrom ? { reusedFrom: r.reusedFrom } : {}),
    }));
    const reused = [...resolved.values()].filter((r) => r.reusedFrom).length;
    const shown = [...resolved.values()]
      .slice(0, 4)
      .map(
        (r) =>
          `\`${r.repository}:${r.tag}\` ${shortDigest(r.digest)}${r.reusedFrom ? ` (reused from ${r.reusedFrom})` : ""}`,
      );
    detail(
      [
        resolved.size > 0
          ? `${resolved.size} image(s) by digest in ${containers} container(s)${reused ? `, ${reused} reused from ${pull.baseBranch}` : ""}: ${shown.join(", ")}${resolved.size > 4 ? ", …" : ""}`
          : "no images[] image to resolve",
        ...(pullSecret ? [`pull secret ${PULL_SECRET_NAME} in every pod`] : []),
        ...notes,
      ].join("; "),
    );
  },
};
