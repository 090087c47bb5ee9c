// The operations page: every stream the feed serves, one line each, refreshed every 5 s and
// sortable by any column. Read-only: no phone, no customer; a stream links to its host feed.
"use strict";

const REFRESH_MS = 5000;
const SILENT_S = 600; // no comment for 10 minutes: the line is marked
const vnd = new Intl.NumberFormat("vi-VN");
const state = { rows: [], key: "revenue", desc: true };

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function ago(seconds) {
  if (seconds === null) return "—";
  if (seconds < 60) return `${Math.round(seconds)} giây trước`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} phút trước`;
  return `${Math.round(seconds / 3600)} giờ trước`;
}

function value(row, key) {
  if (key === "progress") return row.target_revenue ? row.revenue / row.target_revenue : 0;
  if (key === "last_seen_s") return row.last_seen_s ?? Infinity;
  return row[key];
}

function render() {
  const { key, desc } = state;
  const rows = [...state.rows].sort((a, b) => {
    const x = value(a, key);
    const y = value(b, key);
    const order = typeof x === "string" ? x.localeCompare(y, "vi") : x - y;
    return desc ? -order : order;
  });
  const token = new URL(location.href).searchParams.get("token");
  const body = byTestId("ops-rows");
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "ops-row";
      tr.dataset.stream = row.stream;
      const silent = row.last_seen_s !== null && row.last_seen_s > SILENT_S;
      if (silent) tr.className = "silent";
      const name = document.createElement("td");
      const link = document.createElement("a");
      const feed = new URL("/", location.href);
      feed.searchParams.set("stream", row.stream);
      if (token) feed.searchParams.set("token", token);
      link.href = feed.pathname + feed.search;
      link.textContent = row.title;
      const id = document.createElement("small");
      id.textContent = row.stream; // several streams may sell the same catalog
      name.append(link, id);
      const pct = row.target_revenue ? Math.round((100 * row.revenue) / row.target_revenue) : 0;
      tr.append(
        name,
        cell(vnd.format(row.comments_per_minute), "num"),
        cell(vnd.format(row.orders), "num"),
        cell(`${vnd.format(row.revenue)} ₫`, "num"),
        cell(`${pct}%`, "num"),
        cell(vnd.format(row.viewers), "num"),
        cell(vnd.format(row.reviews), row.reviews ? "num attention" : "num"),
        cell(ago(row.last_seen_s), silent ? "num attention" : "num"),
      );
      return tr;
    }),
  );
  for (const th of document.querySelectorAll("th[data-key]")) {
    th.setAttribute(
      "aria-sort",
      th.dataset.key === key ? (desc ? "descending" : "ascending") : "none",
    );
  }
  byTestId("ops-count").textContent = String(rows.length);
}

async function refresh() {
  try {
    const response = await fetch("/api/ops", { cache: "no-store" });
    if (response.ok) {
      state.rows = await response.json();
      byTestId("ops-updated").textContent = new Date().toLocaleTimeString("vi-VN");
      render();
    }
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

for (const th of document.querySelectorAll("th[data-key]")) {
  th.addEventListener("click", () => {
    state.desc = state.key === th.dataset.key ? !state.desc : th.dataset.key !== "title";
    state.key = th.dataset.key;
    render();
  });
}
refresh();
