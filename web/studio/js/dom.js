/** Small DOM helpers shared by the views and panels. */

let fieldCount = 0;

/**
 * An element with attributes and children. `on<Event>` attributes given functions become listeners;
 * boolean attributes are set when true and left out when false.
 * @param {string} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {string | Node | Array<string | Node | null | false>} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "style") throw new Error("the page's CSP refuses style attributes: use element.style.setProperty");
    if (typeof value === "function") element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of Array.isArray(children) ? children : [children]) {
    if (child || child === 0) element.append(child);
  }
  return element;
}

/** An SVG element (the commit graph). */
export function svg(tag, attributes = {}, children = []) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/**
 * A labelled form control: <label>, the control, and an optional hint tied by aria-describedby.
 * @param {string} label
 * @param {Record<string, unknown>} attributes of the <input> (or `tag: "select"|"textarea"` and `options`)
 * @param {string} [hint]
 */
export function field(label, attributes, hint) {
  const id = `field-${++fieldCount}`;
  const { tag = "input", options = [], ...rest } = attributes;
  const hintId = hint ? `${id}-hint` : undefined;
  const control = h(/** @type {string} */ (tag), { id, "aria-describedby": hintId, ...rest },
    /** @type {Array<string|{value: string, label: string}>} */ (options).map((option) =>
      typeof option === "string" ? h("option", { value: option }, option) : h("option", { value: option.value }, option.label)));
  return h("div", { class: "field" }, [
    h("label", { for: id }, label),
    control,
    hint ? h("small", { id: hintId }, hint) : null,
  ]);
}

/** "0:12", "1:05": a duration in seconds as minutes and seconds. */
export function formatTime(seconds) {
  if (!Number.isFinite(seconds)) return "0:00";
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/** A short commit id for people. */
export const shortId = (commitId) => commitId.slice(0, 8);
