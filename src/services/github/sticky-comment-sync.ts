/**
 * The one sticky comment of a preview, found by its hidden marker among our own comments and edited in place —
 * only when its text changes. It says what the preview is (state, URL, commit, database, expiry); the run's step
 * timings live in the check run, so a redeploy that changes nothing leaves the comment alone.
 *
 * Never a second one: a comment is created only when a listing said there is none, and no other run of this process
 * created one since (two runs of one preview — a deploy and the fleet telling it its place in line — can both have
 * listed before either wrote; their writes run one after the other in the write lane). When the comments cannot be
 * listed, this write is skipped and reported. A listing or write GitHub fails transiently (5xx, 429, secondary rate
 * limit) asks its write lane to try again with the check run's backoff (report-error.ts); after a failed create the
 * retry lists again first (GitHub may have created the comment before it failed).
 */
import type { RunReport } from "../shared/run-report.js";
import type { OurApp } from "./app-identity.js";
import { attempt, httpStatus, reportError, WriteFailures } from "./report-error.js";
import { GITHUB_TEXT_LIMIT, renderComment, stickyMarker } from "./report-markdown.js";
import type { SurfaceContext } from "./surface.js";
import type { WriteOutcome } from "./write-lanes.js";

const normalize = (body: string) => body.replace(/\r\n?/g, "\n");

/** Sticky comments created through one set of write lanes (the process's), by repository and PR: the newest few. */
export type CreatedStickies = Map<string, { id: number; body: string }>;
const CREATED_MEMORY = 5_000;

export class StickyCommentSync {
  private desired: RunReport | undefined;
  /** Our sticky comment as GitHub has it: undefined not looked up, null none yet. */
  private current: { id: number; body: string } | null | undefined;
  /** Writes failed in a row (the backoff of the next try). */
  private readonly failures = new WriteFailures();

  constructor(
    private readonly ctx: SurfaceContext,
    private readonly ours: OurApp,
    private readonly created: CreatedStickies = new Map(),
  ) {}

  set(report: RunReport): void {
    this.desired = report;
  }

  async prepare(): Promise<void> {
    const report = this.desired;
    if (!report || this.current !== undefined) return;
    try {
      this.current = await this.find(report);
    } catch (err) {
      this.current = undefined; // unknown: looked up again by the write
      this.ctx.fail("comment", reportError(`listing comments of ${report.names.key}`, err), report);
    }
  }

  async write(): Promise<WriteOutcome | void> {
    const report = this.desired;
    if (!report) return;
    const where = `${this.ctx.owner}/${this.ctx.repo}#${report.ref.number}`.toLowerCase();
    if (this.current === undefined) {
      // The listing failed: look again rather than risk a second comment.
      try {
        this.current = await this.find(report);
      } catch (err) {
        this.ctx.fail(
          "comment",
          reportError(`listing comments of ${report.names.key}; not written this time`, err),
          report,
        );
        return this.failures.retryAfter(err);
      }
    }
    this.current ??= this.created.get(where) ?? null;
    const body = this.render(report);
    if (this.current && normalize(this.current.body) === body) {
      this.failures.reset();
      return;
    }
    let creating = false;
    try {
      if (this.current && (await this.update(report, this.current.id, body))) {
        this.current = { id: this.current.id, body };
        this.failures.reset();
        return;
      }
      creating = true;
      const { octokit, owner, repo } = this.ctx;
      const { data } = await attempt(`creating the preview comment on ${report.names.key}`, () =>
        octokit.rest.issues.createComment({ owner, repo, issue_number: report.ref.number, body }),
      );
      this.current = { id: data.id, body };
      this.created.set(where, this.current);
      if (this.created.size > CREATED_MEMORY) this.created.delete(this.created.keys().next().value!);
      this.failures.reset();
    } catch (err) {
      this.ctx.fail("comment", reportError(`updating the preview comment on ${report.names.key}`, err), report);
      if (creating) this.current = undefined; // it may exist after all: the retry lists first
      return this.failures.retryAfter(err);
    }
  }

  private render(report: RunReport): string {
    const { serverUrl, owner, repo } = this.ctx;
    const checksUrl = `${serverUrl}/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/pull/${report.ref.number}/checks`;
    return renderComment(report, { serverUrl, checkRunUrl: checksUrl }).slice(0, GITHUB_TEXT_LIMIT);
  }

  private async find(report: RunReport): Promise<{ id: number; body: string } | null> {
    const { octokit, owner, repo } = this.ctx;
    const marker = stickyMarker(report.names.key);
    return attempt(`listing comments of ${report.names.key}`, async () => {
      for await (const { data } of octokit.paginate.iterator(octokit.rest.issues.listComments, {
        owner,
        repo,
        issue_number: report.ref.number,
        per_page: 100,
      })) {
        for (const c of data)
          if (c.body?.includes(marker) && (await this.ours.ownsComment(c))) return { id: c.id, body: c.body };
      }
      return null;
    });
  }

  /** False when the comment is gone (someone deleted it): the caller posts a new one. */
  private async update(report: RunReport, id: number, body: string): Promise<boolean> {
    const { octokit, owner, repo } = this.ctx;
    try {
      await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body });
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw reportError(`updating comment ${id} on ${report.names.key}`, err);
    }
  }
}
