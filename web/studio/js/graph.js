/**
 * The commit graph: commits newest first, one row each, in lanes (as `git log --graph` draws them),
 * drawn as SVG beside a list of commit buttons.
 *
 * Lanes: walking the rows, each lane waits for one commit (the parent of the commit above it). A commit
 * takes the first lane waiting for it (other lanes waiting for it end there: branches joining) or a
 * free lane; its first parent then waits in its lane, further parents (merges) in lanes of their own.
 */

import { h, shortId, svg } from "./dom.js";

const ROW = 36; // px, kept equal to the list's row height in studio.css (--graph-row)
const LANE = 18;
const RADIUS = 6;

/** @typedef {{id: string, parent_ids: string[], message: string, branch_heads: string[], tags: string[],
 *   timestamp?: string}} GraphCommit */
/** @typedef {{row: number, lane: number, commit: GraphCommit}} Placed */
/** @typedef {{from: Placed, to: Placed, lane: number}} Edge */

/**
 * @param {GraphCommit[]} commits newest first (each commit above its parents)
 * @returns {{placed: Map<string, Placed>, edges: Edge[], lanes: number}}
 */
export function layout(commits) {
  /** @type {(string | null)[]} */
  const waiting = [];
  /** @type {Map<string, Placed>} */
  const placed = new Map();
  /** @type {{child: string, parent: string, lane: number}[]} */
  const links = [];
  const freeLane = () => {
    const index = waiting.indexOf(null);
    return index === -1 ? waiting.push(null) - 1 : index;
  };

  commits.forEach((commit, row) => {
    let lane = waiting.indexOf(commit.id);
    if (lane === -1) lane = freeLane();
    waiting.forEach((id, index) => {
      if (id === commit.id) waiting[index] = null;
    });
    placed.set(commit.id, { row, lane, commit });
    commit.parent_ids.forEach((parent, index) => {
      let parentLane = waiting.indexOf(parent);
      if (parentLane === -1) {
        parentLane = index === 0 && waiting[lane] === null ? lane : freeLane();
        waiting[parentLane] = parent;
      }
      links.push({ child: commit.id, parent, lane: parentLane });
    });
  });
  const edges = links
    .filter((link) => placed.has(link.parent)) // parents beyond the page loaded are left out
    .map((link) => ({ from: placed.get(link.child), to: placed.get(link.parent), lane: link.lane }));
  return { placed, edges, lanes: Math.max(1, ...[...placed.values()].map((p) => p.lane + 1)) };
}

const x = (lane) => LANE / 2 + lane * LANE;
const y = (row) => ROW / 2 + row * ROW;

/** The path of an edge: into the lane the parent was awaited in, down it, and into the parent's lane. */
function edgePath({ from, to, lane }) {
  const [x1, y1, xl, x2, y2] = [x(from.lane), y(from.row), x(lane), x(to.lane), y(to.row)];
  if (to.row === from.row + 1) return `M${x1},${y1} C${x1},${y1 + ROW / 2} ${x2},${y2 - ROW / 2} ${x2},${y2}`;
  return (
    `M${x1},${y1} C${x1},${y1 + ROW / 2} ${xl},${y1 + ROW / 2} ${xl},${y1 + ROW}` +
    ` L${xl},${y2 - ROW} C${xl},${y2 - ROW / 2} ${x2},${y2 - ROW / 2} ${x2},${y2}`
  );
}

/**
 * @param {GraphCommit[]} commits newest first
 * @param {{selected: string, forkPoint?: string, onSelect: (commitId: string) => void}} options forkPoint: the
 *   commit a fork was made from (the origin is named in the repository's heading)
 * @returns {HTMLElement}
 */
export function commitGraph(commits, { selected, forkPoint, onSelect }) {
  const { placed, edges, lanes } = layout(commits);
  const width = lanes * LANE;
  const drawing = svg("svg", {
    class: "graph-lanes",
    width,
    height: commits.length * ROW,
    viewBox: `0 0 ${width} ${commits.length * ROW}`,
    "aria-hidden": "true",
  }, [
    ...edges.map((edge) => svg("path", { d: edgePath(edge), class: `edge lane-${edge.lane % 6}` })),
    ...[...placed.values()].map(({ row, lane, commit }) =>
      svg("circle", {
        cx: x(lane),
        cy: y(row),
        r: commit.parent_ids.length > 1 ? RADIUS + 1 : RADIUS,
        class: `node lane-${lane % 6}${commit.id === selected ? " selected" : ""}${commit.parent_ids.length > 1 ? " merge" : ""}`,
      })),
  ]);
  const list = h("ol", { class: "graph-rows" }, commits.map((commit) => {
    const labels = [
      ...commit.branch_heads.map((name) => h("span", { class: "ref branch" }, name)),
      ...commit.tags.map((name) => h("span", { class: "ref tag" }, name)),
      commit.parent_ids.length > 1 ? h("span", { class: "ref merge" }, "merge") : null,
      commit.id === forkPoint ? h("span", { class: "ref fork" }, "fork point") : null,
    ];
    return h("li", {}, h("button", {
      type: "button",
      class: "commit-row",
      "aria-current": commit.id === selected ? "true" : false,
      "data-commit-id": commit.id,
      onClick: () => onSelect(commit.id),
    }, [h("code", {}, shortId(commit.id)), h("span", { class: "message" }, commit.message), ...labels]));
  }));
  const graph = h("div", { class: "graph" }, [drawing, list]);
  // Set through the CSSOM: the page's CSP refuses style attributes.
  graph.style.setProperty("--graph-row", `${ROW}px`);
  graph.style.setProperty("--graph-width", `${width}px`);
  return graph;
}
