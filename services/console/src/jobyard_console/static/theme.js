// Before the page is drawn: the theme the person chose with the header's toggle (kept in
// localStorage), else the system's (prefers-color-scheme, which the stylesheet follows alone).
"use strict";
(function theme() {
  const KEY = "jobyard-theme";
  const root = document.documentElement;
  const system = window.matchMedia("(prefers-color-scheme: dark)");
  let chosen = null;
  try {
    chosen = window.localStorage.getItem(KEY);
  } catch (blocked) {
    chosen = null; // storage refused: follow the system
  }
  if (chosen === "dark" || chosen === "light") {
    root.dataset.theme = chosen;
  }
  const current = () => root.dataset.theme || (system.matches ? "dark" : "light");

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-toggle");
    if (!button) {
      return;
    }
    const show = () => button.setAttribute("aria-pressed", String(current() === "dark"));
    button.hidden = false; // without scripts the system's theme applies and the toggle stays hidden
    show();
    button.addEventListener("click", () => {
      const next = current() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try {
        window.localStorage.setItem(KEY, next);
      } catch (blocked) {
        // this page only
      }
      show();
    });
    system.addEventListener("change", show);
  });
})();
