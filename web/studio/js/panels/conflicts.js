/**
 * The conflict view of a merge: each (stem, time range) both sides changed, with the base, ours and theirs
 * playable over that range and a choice of ours, theirs or a new take; stems that cannot be merged by range
 * and metadata fields (tempo, key) with a choice of ours or theirs. `choices()` gives the next merge request's
 * `resolutions` and `range_resolutions`.
 */

import { h } from "../dom.js";
import { clipButton } from "./clip.js";
import { timeRange } from "./forms.js";

let groupCount = 0;

/**
 * A radio group (fieldset with a legend) of resolutions.
 * @param {string} legend
 * @param {Array<{value: string, label: string}>} options the first is checked
 */
function choiceGroup(legend, options) {
  const name = `resolution-${++groupCount}`;
  return h("fieldset", { class: "choice" }, [
    h("legend", {}, legend),
    ...options.map((option, index) =>
      h("label", {}, [
        h("input", { type: "radio", name, value: option.value, checked: index === 0 }),
        ` ${option.label}`,
      ]),
    ),
  ]);
}

/** @param {HTMLFieldSetElement} group */
const chosen = (group) => /** @type {HTMLInputElement} */ (group.querySelector("input:checked")).value;

const SIDES = [
  { value: "ours", label: "Keep ours (this branch)" },
  { value: "theirs", label: "Take theirs (merged in)" },
];

/**
 * @param {typeof import("../api.js")} api
 * @param {{conflicts: object[], range_conflicts: object[], metadata_conflicts: object[]}} merge a CONFLICT answer
 * @returns {{element: HTMLElement, choices: () => Promise<{resolutions: object[], range_resolutions: object[]}>}}
 */
export function conflictView(api, merge) {
  const byRange = new Set(merge.range_conflicts.map((conflict) => conflict.stem));
  /** @type {Array<() => Promise<object>>} */
  const ranges = [];
  /** @type {Array<() => object>} */
  const whole = [];
  const items = [];

  for (const conflict of merge.range_conflicts) {
    const { stem, start_seconds: start, end_seconds: end } = conflict;
    const where = `${stem}, ${timeRange(start, end)}`;
    const group = choiceGroup(`Resolve ${where}`, [...SIDES, { value: "take", label: "Use a new take" }]);
    const take = h("input", { type: "file", accept: "audio/*", "aria-label": `New take of ${stem} for ${where}` });
    group.append(take);
    items.push(h("li", { class: "conflict", "data-stem": stem, "data-start": start, "data-end": end }, [
      h("p", {}, [h("strong", {}, stem), ` changed on both sides in ${timeRange(start, end)}`]),
      h("div", { class: "clips" },
        ["base", "ours", "theirs"].map((side) => clipButton(api, side, conflict[`${side}_url`], start, end))),
      group,
    ]));
    ranges.push(async () => {
      const resolution = chosen(group);
      const range = { stem, start_seconds: start, end_seconds: end };
      if (resolution !== "take") return { ...range, resolution };
      if (!take.files?.length) throw new Error(`Choose the new take for ${where}`);
      const body = new FormData();
      body.append("file", take.files[0]);
      return { ...range, resolution, take_blob_id: (await api.upload("/api/audio/upload", body)).blob_id };
    });
  }

  for (const conflict of merge.conflicts.filter((candidate) => !byRange.has(candidate.name))) {
    const group = choiceGroup(`Resolve the stem ${conflict.name}`, SIDES);
    items.push(h("li", { class: "conflict", "data-stem": conflict.name }, [
      h("p", {}, [h("strong", {}, conflict.name), `: ${conflict.reason}`]),
      group,
    ]));
    whole.push(() => ({ name: conflict.name, resolution: chosen(group) }));
  }

  for (const conflict of merge.metadata_conflicts) {
    const group = choiceGroup(`Resolve ${conflict.field}`, [
      { value: "ours", label: `Keep ours: ${conflict.ours_value || "(none)"}` },
      { value: "theirs", label: `Take theirs: ${conflict.theirs_value || "(none)"}` },
    ]);
    items.push(h("li", { class: "conflict" }, [h("p", {}, `${conflict.field} changed on both sides`), group]));
    whole.push(() => ({ name: conflict.field, resolution: chosen(group) }));
  }

  return {
    element: h("section", { class: "conflicts", "aria-label": "Merge conflicts" }, [
      h("h4", {}, `${items.length} conflict${items.length === 1 ? "" : "s"} to resolve`),
      h("ul", {}, items),
    ]),
    choices: async () => ({
      resolutions: whole.map((choice) => choice()),
      range_resolutions: await Promise.all(ranges.map((choice) => choice())),
    }),
  };
}
