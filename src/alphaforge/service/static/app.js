// AlphaForge dashboard: draw the page's charts, sort and filter tables, ask before an action,
// and follow the ledger over the WebSocket (a change redraws the page's content in place).
"use strict";

function drawCharts(root) {
  root.querySelectorAll("script[id$='-figure']").forEach(function (holder) {
    const id = holder.id.slice(0, -"-figure".length);
    const figure = JSON.parse(holder.textContent);
    Plotly.newPlot(id, figure.data, figure.layout, {responsive: true, displaylogo: false});
  });
}

function cellValue(cell) {
  const text = cell.textContent.trim().replace(/,/g, "");
  const number = Number(text);
  return text !== "" && !Number.isNaN(number) ? number : text;
}

function makeSortable(root) {
  root.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (header, column) {
      header.addEventListener("click", function () {
        const ascending = header.dataset.order !== "asc";
        table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
        header.dataset.order = ascending ? "asc" : "desc";
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        rows.sort(function (a, b) {
          const x = cellValue(a.cells[column]), y = cellValue(b.cells[column]);
          const order = x < y ? -1 : x > y ? 1 : 0;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  root.querySelectorAll("input.filter").forEach(function (input) {
    input.addEventListener("input", function () {
      const wanted = input.value.toLowerCase();
      const table = document.getElementById(input.dataset.table);
      Array.from(table.tBodies[0].rows).forEach(function (row) {
        row.hidden = wanted !== "" && !row.textContent.toLowerCase().includes(wanted);
      });
    });
  });
}

function bindControls(root) {
  root.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const action = button.dataset.action;
      if (!window.confirm("Really " + action + " trading?")) { return; }
      const reason = window.prompt("Why? (kept in the audit)", "");
      if (!reason || reason.trim().length < 3) { return; }
      const answer = await fetch("/api/v1/controls/" + action, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({confirm: true, reason: reason.trim()}),
        credentials: "same-origin",
      });
      const result = await answer.json();
      const line = document.getElementById("control-result");
      line.textContent = answer.ok ? result.message : "Refused: " + JSON.stringify(result.detail);
      line.dataset.status = String(answer.status);
    });
  });
}

function prepare(root) {
  drawCharts(root);
  makeSortable(root);
  bindControls(root);
}

let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const answer = await fetch(window.location.href, {credentials: "same-origin"});
    if (answer.ok) {
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      const main = document.querySelector("main");
      main.innerHTML = fresh.querySelector("main").innerHTML;
      const beat = fresh.getElementById("heartbeat");
      if (beat) {
        const mine = document.getElementById("heartbeat");
        mine.textContent = beat.textContent;
        mine.className = beat.className;
      }
      prepare(main);
      document.body.dataset.refreshed = String(Date.now());
    }
  } finally {
    refreshing = false;
    if (again) { again = false; setTimeout(refresh, 200); }
  }
}

function follow() {
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + window.location.host + "/ws");
  const live = document.getElementById("live");
  socket.addEventListener("open", function () {
    live.textContent = "live updates: on";
    live.className = "alive";
  });
  socket.addEventListener("message", function (event) {
    const message = JSON.parse(event.data);
    document.body.dataset.lastMessage = message.type;
    if (["fill", "order", "equity", "alert", "job", "signal", "heartbeat"].includes(message.type)) {
      refresh();
    }
  });
  socket.addEventListener("close", function () {
    live.textContent = "live updates: reconnecting";
    live.className = "dead";
    setTimeout(follow, 3000);
  });
}

prepare(document);
if (document.querySelector("main[data-page]")) { follow(); }
