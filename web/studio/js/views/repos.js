/** #/repos: the signed-in user's repositories, the public ones, and a form to create one. */

import * as api from "../api.js";
import { field, h } from "../dom.js";

const PAGE_SIZE = 100;

/** @param {{repo_id: string, name: string, owner_username: string, description: string, is_public: boolean,
 *   genre: string, forked_from?: {repo_id: string}}} repo */
function repoItem(repo) {
  const forked = repo.forked_from?.repo_id
    ? h("span", { class: "badge" }, `fork of ${repo.forked_from.owner_username}/${repo.forked_from.repo_name}`)
    : null;
  return h("li", { class: "repo-item" }, [
    h("a", { href: `#/repo/${repo.repo_id}` }, `${repo.owner_username}/${repo.name}`),
    h("span", { class: "badge" }, repo.is_public ? "public" : "private"),
    repo.genre ? h("span", { class: "badge" }, repo.genre) : null,
    forked,
    repo.description ? h("p", {}, repo.description) : null,
  ]);
}

/** @param {string} title @param {object[]} repos @param {string} empty */
function repoList(title, repos, empty) {
  const id = `list-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return h("section", { "aria-labelledby": id }, [
    h("h2", { id }, title),
    repos.length ? h("ul", { class: "repo-list" }, repos.map(repoItem)) : h("p", { class: "muted" }, empty),
  ]);
}

/**
 * @param {HTMLElement} main
 * @param {{navigate: (hash: string) => void, announce: (message: string, isError?: boolean) => void}} app
 */
export async function renderRepos(main, app) {
  const me = api.session().user;
  const { repositories } = await api.get("/api/repositories", { page_size: PAGE_SIZE });
  const mine = repositories.filter((repo) => repo.owner_id === me.user_id);
  const others = repositories.filter((repo) => repo.owner_id !== me.user_id);

  const create = h("form", { class: "card", "aria-labelledby": "create-repo-title" }, [
    h("h2", { id: "create-repo-title" }, "New repository"),
    field("Name", { name: "name", required: true, maxlength: 100 }),
    field("Description", { name: "description", maxlength: 2000 }),
    field("Genre", { name: "genre", maxlength: 64 }),
    h("div", { class: "field checkbox" }, [
      h("input", { type: "checkbox", id: "create-public", name: "is_public" }),
      h("label", { for: "create-public" }, "Public (anyone can listen and fork)"),
    ]),
    h("button", { type: "submit" }, "Create repository"),
  ]);
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(create));
    try {
      const repo = await api.post("/api/repositories/create", {
        name: values.name,
        description: values.description,
        genre: values.genre,
        is_public: values.is_public === "on",
      });
      app.navigate(`#/repo/${repo.repo_id}`);
    } catch (error) {
      app.announce(error.message, true);
    }
  });

  main.replaceChildren(
    h("h1", {}, "Repositories"),
    h("div", { class: "repos" }, [
      h("div", {}, [
        repoList("Your repositories", mine, "None yet: create one, or fork a public one."),
        repoList("Public and shared with you", others, "Nothing here yet."),
      ]),
      create,
    ]),
  );
}
