// The console's only script of its own: small conveniences; every page works without it.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

document.addEventListener("change", (event) => {
  const box = event.target;
  const name = box.getAttribute && box.getAttribute("data-select-all");
  if (name) {
    box.form.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((each) => {
      each.checked = box.checked;
    });
  }
  if (box.name === "type") {
    showTypeFields(box.form);
  }
});

// The task form shows the fields of the chosen type (all stay in the page for no-script use).
function showTypeFields(form) {
  const chosen = form.querySelector("input[name=type]:checked");
  const type = chosen ? chosen.value : "one_time";
  form.querySelectorAll(".when-delayed").forEach((el) => { el.hidden = type !== "delayed"; });
  form.querySelectorAll(".when-recurring").forEach((el) => { el.hidden = type !== "recurring"; });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.task-form").forEach(showTypeFields);
});

// A change's one-line notice comes in the URL after its redirect: shown once, then taken out
// of the address, so a reload or a shared link does not say it again.
(function forgetNotice() {
  const url = new URL(window.location.href);
  if (url.searchParams.has("notice")) {
    url.searchParams.delete("notice");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
})();

// Times read as words from the server ("3 min ago"); hovering one shows its exact moment in
// the viewer's own time zone (the server, not knowing it, says UTC there).
function localTimes(root) {
  root.querySelectorAll("time[datetime]").forEach((element) => {
    const moment = new Date(element.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      element.title = moment.toLocaleString(undefined, {
        dateStyle: "medium", timeStyle: "medium", timeZoneName: "short",
      });
    }
  });
}
document.addEventListener("DOMContentLoaded", () => localTimes(document));
document.addEventListener("htmx:afterSettle", (event) => localTimes(event.target));
