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

// The task and workflow forms show the fields of the chosen type (all stay in the page for no-script use).
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

// Times come from the server exact, in UTC (true without scripts, however long a page stays
// open). Here they read as words ("3 min ago", "in 7 days"), recomputed every 15 s so a quiet
// page never says "just now" of an hour ago; hovering shows the exact moment in the viewer's
// own time zone.
function words(moment, now) {
  const seconds = (now - moment) / 1000;
  const ago = Math.abs(seconds);
  let amount;
  if (ago < 45) {
    return "just now";
  } else if (ago < 45 * 60) {
    amount = `${Math.max(1, Math.round(ago / 60))} min`;
  } else if (ago < 22 * 3600) {
    amount = `${Math.round(ago / 3600)} h`;
  } else if (ago < 26 * 86400) {
    const days = Math.max(1, Math.round(ago / 86400));
    amount = `${days} day${days === 1 ? "" : "s"}`;
  } else {
    return moment.toISOString().slice(0, 10);
  }
  return seconds > 0 ? `${amount} ago` : `in ${amount}`;
}

// (dateStyle cannot be combined with timeZoneName: each part is named instead)
const LOCAL_EXACT = {
  year: "numeric", month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
};

function readableTimes(root) {
  const now = Date.now();
  root.querySelectorAll("time[datetime]").forEach((element) => {
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) {
      return;
    }
    if (element.dataset.show === "local") {  // the exact moment in the viewer's own zone
      element.textContent = moment.toLocaleString(undefined, LOCAL_EXACT);
      return;
    }
    element.textContent = words(moment, now);
    element.title = moment.toLocaleString(undefined, LOCAL_EXACT);
  });
}
document.addEventListener("DOMContentLoaded", () => readableTimes(document));
document.addEventListener("htmx:afterSettle", () => readableTimes(document));
window.setInterval(() => readableTimes(document), 15000);

// A live fragment swapped in keeps the <details> its reader had opened (the charts' table).
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  target.dataset.opened = [...target.querySelectorAll("details[id][open]")].map((d) => d.id).join(" ");
});
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  (target.dataset.opened || "").split(" ").filter(Boolean).forEach((id) => {
    const details = document.getElementById(id);
    if (details) {
      details.open = true;
    }
  });
});
