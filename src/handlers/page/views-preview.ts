/** One preview's page: its facts, the last deploy step by step, the diagnosis, and recent pod logs. */
import { html, safeUrl, type SafeHtml } from "./html.js";
import { boundedDiagnosis, boundedLogs, duration, relative, LOG_BYTES_PER_CONTAINER } from "./format.js";
import type { PodLog, PreviewDetail } from "../../services/shared/page-data.js";
import { commitLink, previewPath, stateBadge } from "./views-list.js";

export interface PreviewView {
  preview: PreviewDetail;
  logs: PodLog[];
  now: number;
  githubWeb: string;
}

function link(url: string | undefined): SafeHtml {
  const u = safeUrl(url);
  return u ? html`<a href="${u}">${u}</a>` : html`—`;
}

function facts(p: PreviewDetail, v: PreviewView): SafeHtml {
  const pr =
    safeUrl(p.prUrl) ?? `${v.githubWeb}/${encodeURIComponent(p.owner)}/${encodeURIComponent(p.repo)}/pull/${p.number}`;
  return html`<dl class="facts">
    <dt>State</dt>
    <dd>${stateBadge(p.state)}${p.reason ? html` ${p.reason}` : ""}</dd>
    <dt>URL</dt>
    <dd>${link(p.url)}${(p.links ?? []).map((l) => html`<br />${l.title}: ${link(l.url)}`)}</dd>
    <dt>Access</dt>
    <dd>${p.access === "public" ? "anyone with the URL" : "readers of the repository, signed in with GitHub"}</dd>
    <dt>Pull request</dt>
    <dd><a href="${pr}">${p.owner}/${p.repo}#${p.number}</a></dd>
    <dt>Branch</dt>
    <dd>${p.branch ? html`<code>${p.branch}</code>` : "—"}</dd>
    <dt>Commit</dt>
    <dd>${commitLink(p, v.githubWeb)}</dd>
    <dt>Namespace</dt>
    <dd>${p.namespace ? html`<code>${p.namespace}</code>` : "—"}</dd>
    <dt>Database</dt>
    <dd>${p.database ? html`<code>${p.database}</code>` : "—"}</dd>
    <dt>Created</dt>
    <dd>${relative(p.createdAt, v.now)}</dd>
    <dt>Updated</dt>
    <dd>${relative(p.updatedAt, v.now)}</dd>
    <dt>Expires</dt>
    <dd>${relative(p.expiresAt, v.now)}</dd>
    <dt>Sleep</dt>
    <dd>
      ${p.sleep ? (p.sleep.asleep ? "asleep" : "awake") : "—"}${p.sleep?.since ? html`, ${relative(p.sleep.since, v.now)}` : ""}
    </dd>
  </dl>`;
}

function deploy(p: PreviewDetail, now: number): SafeHtml {
  const d = p.lastDeploy;
  if (!d)
    return html`<h2 id="deploy">Last deploy</h2>
      <p class="muted">No deploy recorded yet.</p>`;
  return html`<h2 id="deploy">Last deploy</h2>
    <p>${stateBadge(d.state)} ${d.summary ?? ""}</p>
    <p class="muted">
      ${d.trigger ? html`${d.trigger}, ` : ""}started
      ${relative(d.startedAt, now)}${d.finishedAt ? html`, finished ${relative(d.finishedAt, now)}` : ""}
    </p>
    <div class="scroll" role="region" aria-labelledby="deploy" tabindex="0">
      <table>
        <caption>
          Steps of the last deploy
        </caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Took</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          ${d.steps.map(
            (s) =>
              html`<tr>
                <th scope="row">${s.name}</th>
                <td>${stateBadge(s.status)}</td>
                <td class="num">${relative(s.startedAt, now)}</td>
                <td class="num">${duration(s.durationMs)}</td>
                <td>${s.detail ?? ""}</td>
              </tr> `,
          )}
        </tbody>
      </table>
    </div>`;
}

function diagnosis(p: PreviewDetail): SafeHtml {
  const workloads = p.workloads ?? [];
  const d = p.diagnosis ? boundedDiagnosis(p.diagnosis) : undefined;
  return html`<h2 id="diagnosis">Diagnosis</h2>
    ${
      workloads.length > 0
        ? html`<div class="scroll" role="region" aria-labelledby="diagnosis" tabindex="0">
            <table>
              <caption>
                Workloads
              </caption>
              <thead>
                <tr>
                  <th scope="col">Workload</th>
                  <th scope="col">Ready</th>
                  <th scope="col">Summary</th>
                </tr>
              </thead>
              <tbody>
                ${workloads.map(
                  (w) =>
                    html`<tr>
                      <th scope="row">${w.kind} <code>${w.name}</code></th>
                      <td>${w.ready ? "yes" : "no"}</td>
                      <td>${w.summary}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
        : ""
    }
    ${
      d
        ? html`<pre aria-label="Diagnosis of the last deploy">${d.text}</pre>
            ${d.cut ? html`<p class="muted">Cut: the diagnosis is longer.</p>` : ""}`
        : html`<p class="muted">Nothing to diagnose.</p>`
    }`;
}

function logs(p: PreviewDetail, all: PodLog[]): SafeHtml {
  const shown = boundedLogs(all);
  const more = all.length - shown.length;
  return html`<h2 id="logs">Recent logs</h2>
    ${
      shown.length === 0
        ? html`<p class="muted">No pod logs.</p>`
        : html`<p class="muted">
              Newest lines, at most ${LOG_BYTES_PER_CONTAINER / 1024} KB per container, secrets redacted.
              <a href="${previewPath(p)}/logs">As plain text</a>.
            </p>
            ${shown.map(
              (l) =>
                html`<h3>${l.pod} / ${l.container}</h3>
                  ${l.truncated ? html`<p class="muted">Older lines not shown.</p>` : ""}
                  <pre tabindex="0" aria-label="Log of ${l.pod} / ${l.container}">${l.text}</pre> `,
            )}${more > 0 ? html`<p class="muted">${more} more containers not shown.</p>` : ""}`
    }`;
}

export function previewBody(v: PreviewView): SafeHtml {
  const p = v.preview;
  return html`<p><a href="/previews">All previews</a></p>
    <h1>${p.owner}/${p.repo} #${p.number}</h1>
    ${p.title ? html`<p>${p.title}</p>` : ""} ${facts(p, v)} ${deploy(p, v.now)} ${diagnosis(p)} ${logs(p, v.logs)}`;
}

/** The logs as one text document (same redaction and caps as the page). */
export function logsText(all: PodLog[]): string {
  return boundedLogs(all)
    .map((l) => `==> ${l.pod} / ${l.container}${l.truncated ? " (older lines not shown)" : ""} <==\n${l.text}`)
    .join("\n\n");
}
