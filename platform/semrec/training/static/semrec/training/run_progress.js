// Live progress on a training run's admin page: polls the run's progress view
// (JSON) about once a second and updates the page in place until the run
// succeeds or fails. The page renders the same state first, so it is complete
// without JavaScript too.
(function () {
  "use strict";

  var POLL_INTERVAL_MS = 1000;
  var panel = document.getElementById("semrec-run");
  var resultBox = document.getElementById("semrec-run-result");
  if (!panel || !panel.dataset.progressUrl) {
    return;
  }
  var lastResultHtml = null;

  function setFields(state) {
    panel.querySelectorAll("[data-field]").forEach(function (element) {
      var value = state[element.dataset.field];
      if (value === undefined) {
        return;
      }
      var text = value === null || value === "" ? "-" : String(value);
      if (element.dataset.field === "stage" || element.dataset.field === "error") {
        text = value || "";
      }
      if (element.textContent !== text) {
        element.textContent = text;
      }
    });
    panel.querySelectorAll("[data-visible-if]").forEach(function (element) {
      element.hidden = !state[element.dataset.visibleIf];
    });
  }

  function setStatus(state) {
    panel.dataset.status = state.status;
    panel.dataset.finished = state.finished ? "true" : "false";
    [panel, panel.querySelector(".semrec-status"), panel.querySelector(".semrec-progress")].forEach(function (element) {
      if (!element) {
        return;
      }
      element.classList.forEach(function (name) {
        if (/^semrec-(run|status|progress)-(queued|running|succeeded|failed)$/.test(name)) {
          element.classList.remove(name);
        }
      });
    });
    panel.classList.add("semrec-run-" + state.status);
    panel.querySelector(".semrec-status").classList.add("semrec-status-" + state.status);
    var bar = panel.querySelector(".semrec-progress");
    bar.classList.add("semrec-progress-" + state.status);
    bar.setAttribute("aria-valuenow", String(state.percent));
    bar.querySelector(".semrec-progress-bar").style.width = state.percent + "%";
  }

  function setResult(state) {
    if (resultBox && state.result_html !== lastResultHtml) {
      lastResultHtml = state.result_html;
      resultBox.innerHTML = state.result_html;
    }
  }

  function showConnection(ok) {
    var offline = panel.querySelector("[data-offline]");
    var live = panel.querySelector("[data-live]");
    if (offline) {
      offline.hidden = ok;
    }
    if (live) {
      live.hidden = !ok || panel.dataset.finished === "true";
    }
  }

  function render(state) {
    setStatus(state);
    setFields(state);
    setResult(state);
  }

  function poll() {
    fetch(panel.dataset.progressUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        render(state);
        showConnection(true);
        if (!state.finished) {
          window.setTimeout(poll, POLL_INTERVAL_MS);
        }
      })
      .catch(function () {
        // A restarting web server or a dropped connection: keep trying, a little slower.
        showConnection(false);
        window.setTimeout(poll, POLL_INTERVAL_MS * 3);
      });
  }

  if (panel.dataset.finished !== "true") {
    window.setTimeout(poll, POLL_INTERVAL_MS);
  }
})();
