// The buttons that change a job (pause, resume, roll back), shared by the Jobs and the job
// detail pages. Each sends the session's token; a refusal is shown with the API's code.
import { h } from "./dom.js";
import { post } from "./api.js";

/** The buttons for `job`; `ctx.mutate` runs and reports the call. */
export function jobActions(job, ctx) {
  const name = job.name;
  const path = `/v1/jobs/${encodeURIComponent(name)}`;
  const fromConfig = job.source === "config";
  const why = fromConfig ? "this job comes from a runtime's config file: change it there" : null;
  const button = (label, action, what, extra = {}) => h("button", {
    type: "button", "data-key": `${action}:${name}`, disabled: fromConfig, title: why,
    "aria-label": `${label} job ${name}`, ...extra,
    onclick: () => ctx.mutate(`${what} ${name}`, () => post(`${path}/${action}`)),
  }, label);
  const paused = job.state === "paused";
  const canRollBack = (job.history || []).some((r) => r.kept && r.revision !== job.revision);
  return h("div", { class: "actions" },
    paused ? button("Resume", "resume", "Resume") : button("Pause", "pause", "Pause"),
    button("Roll back", "rollback", "Roll back", { class: "danger", disabled: fromConfig || !canRollBack,
      title: why || (canRollBack ? "return to the previous revision" : "no earlier revision is kept") }));
}
