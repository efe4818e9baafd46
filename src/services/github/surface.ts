/**
 * What each GitHub reporting surface (check run, deployment, sticky comment) gets from the Reporter: the
 * installation's Octokit for one repository, the web URL for links, and `fail`, which records a failed read or
 * write (log, metrics, the reporter's `failures`) so a surface never throws into a run.
 */
import type { ProbotOctokit } from "probot";
import type { RunReport } from "../shared/run-report.js";
import type { ReportError } from "./report-error.js";

/** The three things the Reporter writes to, as named in logs and metrics. */
export type GitHubSurface = "check_run" | "deployment" | "comment";

export interface SurfaceContext {
  octokit: ProbotOctokit;
  owner: string;
  repo: string;
  serverUrl: string;
  fail(surface: GitHubSurface, err: ReportError, report: RunReport): void;
}
