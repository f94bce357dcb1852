/** #/signin: sign in, or register a new account (which signs in too). */

import * as api from "../api.js";
import { field, h } from "../dom.js";

/**
 * @param {HTMLElement} main the element to render into
 * @param {{navigate: (hash: string) => void, announce: (message: string, isError?: boolean) => void}} app
 */
export function renderSignIn(main, app) {
  const signIn = h("form", { class: "card", "aria-labelledby": "signin-title" }, [
    h("h1", { id: "signin-title" }, "Sign in"),
    field("Username or email", { name: "username", autocomplete: "username", required: true, autofocus: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit" }, "Sign in"),
  ]);
  const register = h("form", { class: "card", "aria-labelledby": "register-title" }, [
    h("h2", { id: "register-title" }, "New here? Register"),
    field("Username", { name: "username", autocomplete: "username", required: true, pattern: "[a-z0-9][a-z0-9_\\-]{2,31}" },
      "3 to 32 lowercase letters, digits, - or _ (a letter or digit first)"),
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 }, "At least 10 characters"),
    h("button", { type: "submit" }, "Register"),
  ]);

  /** @param {HTMLFormElement} form @param {(values: Record<string, string>) => Promise<unknown>} action */
  const onSubmit = (form, action) =>
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        await action(Object.fromEntries(new FormData(form)));
        app.navigate("#/repos");
      } catch (error) {
        app.announce(error.message, true);
      } finally {
        button.disabled = false;
      }
    });
  onSubmit(signIn, (values) => api.signIn(values.username, values.password));
  onSubmit(register, (values) => api.register(values));

  main.replaceChildren(h("div", { class: "signin" }, [signIn, register]));
}
