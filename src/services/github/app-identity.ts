/**
 * Which check runs and comments are ours. Another GitHub App may post a check run named `preview` on the same commit,
 * and anyone can quote our sticky comment's marker: the Reporter must only ever reuse what this app wrote.
 *
 * - A check run is ours when its `app.id` is our App ID (or, without an id, its `app.slug` is our slug).
 * - A comment is ours when it was made by our app (`performed_via_github_app.id`) or by `<slug>[bot]`.
 * Without either fact (a test that gives none) any app's check run and any bot's comment count, as before.
 *
 * The slug is not in the environment; the wiring resolves it once from `GET /app` (lazily, so a start without
 * GitHub still works). If that fails, the App ID alone decides.
 */
import type { Logger } from "../../logger.js";

export interface AppIdentity {
  /** The GitHub App's id (APP_ID). */
  id?: number;
  /** The App's slug, or a function that resolves it (called once). */
  slug?: string | (() => Promise<string | undefined>);
}

interface AppRef {
  id?: number | null;
  slug?: string | null;
}

export class OurApp {
  private slug: Promise<string | undefined> | undefined;

  constructor(
    private readonly identity: AppIdentity,
    private readonly log?: Logger,
  ) {}

  private resolveSlug(): Promise<string | undefined> {
    const s = this.identity.slug;
    this.slug ??=
      typeof s === "function"
        ? s().catch((err: unknown) => {
            this.log?.warn(
              { err },
              "could not learn the GitHub App's slug; recognizing our check runs and comments by App ID only",
            );
            return undefined;
          })
        : Promise.resolve(s);
    return this.slug;
  }

  async ownsCheckRun(run: { app?: AppRef | null }): Promise<boolean> {
    if (this.identity.id !== undefined) return run.app?.id === this.identity.id;
    const slug = await this.resolveSlug();
    return slug === undefined || run.app?.slug === slug;
  }

  async ownsComment(comment: {
    user?: { login?: string; type?: string } | null;
    performed_via_github_app?: AppRef | null;
  }): Promise<boolean> {
    if (comment.user?.type !== "Bot") return false; // a person quoting the marker never takes the comment over
    const via = comment.performed_via_github_app?.id;
    if (this.identity.id !== undefined && via !== undefined && via !== null) return via === this.identity.id;
    const slug = await this.resolveSlug();
    if (slug !== undefined) return comment.user.login === `${slug}[bot]`;
    return this.identity.id === undefined;
  }
}
