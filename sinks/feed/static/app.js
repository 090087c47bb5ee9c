// The host's live order feed. Plain JS, no build step, nothing loaded from outside.
// Every text from viewers (names, comments) goes in through textContent, never innerHTML.
"use strict";

const STATUS = {
  confirmed: "Đã chốt",
  waitlisted: "Chờ hàng",
  needs_review: "Cần duyệt",
  cancelled: "Đã huỷ",
};
const MISSING = {
  product: "thiếu sản phẩm",
  sku: "mã không có",
  variant: "thiếu phân loại",
  qty: "thiếu số lượng",
  line: "không rõ dòng nào",
};
// count units take whole quantities; kg, g, lít, ml take decimals
const DECIMAL_UNITS = new Set(["kg", "g", "lít", "ml"]);
const MAX_SHOWN = 300; // orders kept in the page; the CSV has them all
const TOKEN_KEY = "chotdon.token";

const state = {
  token: null,
  host: false,
  streams: [],
  stream: null,
  summary: null,
  products: new Map(), // sku -> product row
  orders: new Map(), // order_id -> row
  reviews: [],
  source: null,
  retryTimer: null,
  retryDelay: 1000,
  currentDirty: false, // the host is choosing in the "now selling" select: do not overwrite it
};

// -- helpers --------------------------------------------------------------------------------

const byId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function groupDigits(n) {
  const sign = n < 0 ? "-" : "";
  return sign + String(Math.abs(Math.round(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}
const vnd = (n) => `${groupDigits(n)} ₫`;
const qtyText = (q) => (Number.isInteger(q) ? groupDigits(q) : String(q).replace(".", ","));

let timeFormat;
try {
  timeFormat = new Intl.DateTimeFormat("vi-VN", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "Asia/Ho_Chi_Minh",
  });
} catch {
  timeFormat = new Intl.DateTimeFormat("vi-VN", { hour: "2-digit", minute: "2-digit" });
}
const timeText = (ts) => (ts ? timeFormat.format(new Date(ts * 1000)) : "");

function toast(message, kind = "info") {
  const box = byId("toast");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await fetch(path, { method: options.method || "GET", headers, body });
  if (!response.ok) {
    let message = `Lỗi ${response.status}`;
    try {
      const data = await response.json();
      message = data.vi || data.en || message;
    } catch { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

const streamPath = (suffix) => `/api/streams/${encodeURIComponent(state.stream)}${suffix}`;
const productName = (sku) => state.products.get(sku)?.name || sku || "?";

// -- the token ------------------------------------------------------------------------------

function readToken() {
  // the token arrives once in the URL; keep it for this tab only and take it out of the address
  // bar so it is not shared, bookmarked or caught in a screenshot
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    history.replaceState(null, "", url);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function setRole(host) {
  state.host = host;
  document.body.classList.toggle("host", host);
  document.body.classList.toggle("viewer", !host);
  byId("mode").textContent = host
    ? "Chủ phiên · có thể thao tác"
    : "Chế độ xem · số điện thoại được che";
  for (const control of document.querySelectorAll(".host-only button, .host-only select, .host-only input")) {
    control.disabled = !host;
  }
}

// -- rendering ------------------------------------------------------------------------------

function renderSummary() {
  const s = state.summary;
  if (!s) return;
  byId("stream-title").textContent = s.title;
  document.title = `${s.title} · Chốt đơn`;
  byId("revenue").textContent = vnd(s.revenue);
  const bar = byId("revenue-bar");
  if (s.target_revenue > 0) {
    const pct = (100 * s.revenue) / s.target_revenue;
    byId("target").textContent = vnd(s.target_revenue);
    byId("revenue-pct").textContent = `· đạt ${Math.floor(pct)}%`;
    bar.style.width = `${Math.min(100, pct)}%`;
    bar.parentElement.setAttribute("aria-valuenow", String(Math.min(100, Math.floor(pct))));
    bar.parentElement.classList.toggle("done", pct >= 100);
  } else {
    byId("target").textContent = "chưa đặt";
    byId("revenue-pct").textContent = "";
    bar.style.width = "0%";
  }
  byId("orders-count").textContent = groupDigits(s.orders);
  byId("viewers").textContent = groupDigits(s.viewers);
  byId("viewers-peak").textContent = groupDigits(s.viewers_peak);
  byId("cpm").textContent = groupDigits(s.comments_per_minute);
  byId("comments").textContent = groupDigits(s.comments);
  renderCurrent();
}

function productByCode(code) {
  if (!code) return null;
  for (const p of state.products.values()) if (p.code.toUpperCase() === code.toUpperCase()) return p;
  return null;
}

function renderCurrent() {
  const code = state.summary?.current || null;
  const p = productByCode(code);
  const box = byId("current-product");
  box.replaceChildren();
  if (p) {
    box.append(
      el("span", { class: "code", text: p.code }),
      el("span", { class: "name", text: p.name }),
      el("span", { class: "price", text: priceText(p) }),
    );
    box.classList.remove("none");
  } else {
    box.textContent = code ? `Mã ${code}` : "Chưa chọn sản phẩm";
    box.classList.add("none");
  }
  if (!state.currentDirty) byId("current-select").value = p ? p.code : "";
}

function renderProducts() {
  const select = byId("current-select");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: "— Không bán sản phẩm nào —" }));
  for (const p of sortedProducts()) {
    select.append(el("option", { value: p.code, text: `${p.code} – ${p.name}` }));
  }
  select.value = state.currentDirty ? chosen : (state.summary?.current || "");
  renderStock();
}

function sortedProducts() {
  return [...state.products.values()].sort((a, b) => a.code.localeCompare(b.code, "vi", { numeric: true }));
}

function stockCells(s, unit) {
  return [
    el("td", { "data-testid": "stock-remaining" },
      el("strong", { text: qtyText(s.remaining) }), el("small", { text: ` ${unit}` })),
    el("td", { "data-testid": "stock-reserved", text: qtyText(s.reserved) }),
    el("td", { "data-testid": "stock-waiting", class: s.waiting > 0 ? "waiting" : null,
      text: qtyText(s.waiting) }),
  ];
}

function variantRow(p, o) {
  // a variant with its own price and/or stock, under its product; one drawing on the
  // product's stock says so instead of showing figures of its own
  const low = o.own_stock && o.remaining <= Math.max(1, o.initial * 0.1);
  const price = o.price !== p.price ? el("small", { class: "price", text: ` ${vnd(o.price)}` }) : null;
  return el("tr", {
      "data-testid": "stock-variant", "data-sku": p.sku, "data-variant": o.variant,
      class: `variant${low ? " low" : ""}`,
    },
    el("th", { scope: "row" }, el("span", { class: "name", text: o.variant }), price,
      o.own_stock && o.remaining <= 0 ? el("span", { class: "tag", text: "hết hàng" }) : null),
    ...(o.own_stock ? stockCells(o, p.unit)
      : [el("td", { colspan: 3, class: "shared", text: "dùng chung tồn kho của sản phẩm" })]),
  );
}

function renderStock() {
  const body = byId("stock-table").tBodies[0];
  body.replaceChildren();
  for (const p of sortedProducts()) {
    const low = p.remaining <= Math.max(1, p.initial * 0.1);
    body.append(
      el("tr", { "data-testid": "stock-row", "data-sku": p.sku, class: low ? "low" : null },
        el("th", { scope: "row" },
          el("span", { class: "code", text: p.code }),
          el("span", { class: "name", text: p.name })),
        ...stockCells(p, p.unit),
      ),
      ...(p.options || []).map((o) => variantRow(p, o)),
    );
  }
}

function priceText(p) {
  // a product whose variants have prices of their own shows the range
  const prices = [p.price, ...(p.options || []).map((o) => o.price)];
  const low = Math.min(...prices), high = Math.max(...prices);
  const range = low === high ? vnd(low) : `${groupDigits(low)}–${vnd(high)}`;
  return `${range}/${p.unit}`;
}

function itemText(line) {
  const p = state.products.get(line.sku);
  const unit = p ? ` ${p.unit}` : "";
  const variant = line.variant ? ` [${line.variant}]` : "";
  // a variant at a price of its own says so: the total alone would not tell the host why
  const price = p && line.unit_price !== p.price ? ` · ${vnd(line.unit_price)}${unit ? `/${p.unit}` : ""}` : "";
  return `${productName(line.sku)} × ${qtyText(line.qty)}${unit}${variant}${price}`;
}

function orderNode(row, fresh) {
  const items = row.lines.length
    ? row.lines.map((line) => el("li", { class: line.status === "waitlisted" ? "waitlisted" : null },
        itemText(line),
        line.status === "waitlisted" ? el("span", { class: "tag", text: "chờ hàng" }) : null))
    : [el("li", { class: "muted", text: row.status === "cancelled" ? "Khách đã huỷ đơn" : "Đang chờ chủ shop duyệt" })];
  return el("li", {
      class: `order status-${row.status}${fresh ? " fresh" : ""}`,
      "data-testid": "order",
      "data-order-id": row.order_id,
      "data-seq": row.seq,
    },
    el("div", { class: "order-top" },
      el("span", { class: "customer", "data-testid": "order-customer", text: row.customer_name || row.customer || "Khách" }),
      el("span", { class: `badge badge-${row.status}`, "data-testid": "order-status", text: STATUS[row.status] || row.status })),
    el("ul", { class: "items", "data-testid": "order-items" }, items),
    el("div", { class: "order-bottom" },
      el("span", { class: "phone", "data-testid": "order-phone", text: row.phone || "chưa có SĐT" }),
      el("time", { class: "time", text: timeText(row.ts) }),
      el("strong", { class: "total", "data-testid": "order-total", text: vnd(row.total) })),
  );
}

function upsertOrder(row, fresh) {
  const known = state.orders.get(row.order_id);
  if (known && known.seq >= row.seq) return;
  state.orders.set(row.order_id, row);
  const list = byId("order-feed");
  list.querySelector(`[data-order-id="${CSS.escape(row.order_id)}"]`)?.remove();
  const node = orderNode(row, fresh);
  // newest change first: find the first shown order older than this one
  let before = null;
  for (const child of list.children) {
    if (Number(child.dataset.seq) < row.seq) { before = child; break; }
  }
  list.insertBefore(node, before);
  if (fresh) node.addEventListener("animationend", () => node.classList.remove("fresh"), { once: true });
  while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  byId("orders-empty").hidden = list.children.length > 0;
}

function renderOrders() {
  const list = byId("order-feed");
  list.replaceChildren();
  const rows = [...state.orders.values()].sort((a, b) => b.seq - a.seq).slice(0, MAX_SHOWN);
  list.append(...rows.map((row) => orderNode(row, false)));
  byId("orders-empty").hidden = rows.length > 0;
}

function productOptions(selected) {
  return [el("option", { value: "", text: "Chọn sản phẩm…" }),
    ...sortedProducts().map((p) => el("option", {
      value: p.sku, selected: p.sku === selected, text: `${p.code} – ${p.name} (${priceText(p)})`,
    }))];
}

function fitForm(form) {
  // the variant select and the quantity step follow the chosen product
  const p = state.products.get(form.elements.sku.value);
  const variant = form.elements.variant;
  const variants = p?.variants || [];
  const prices = new Map((p?.options || []).map((o) => [o.variant, o.price]));
  variant.replaceChildren(el("option", { value: "", text: "Chọn phân loại…" }),
    ...variants.map((v) => el("option", {
      value: v, text: prices.has(v) && prices.get(v) !== p.price ? `${v} – ${vnd(prices.get(v))}` : v,
    })));
  variant.hidden = variants.length === 0;
  variant.required = variants.length > 0;
  const decimal = p && DECIMAL_UNITS.has(p.unit);
  form.elements.qty.step = decimal ? "0.1" : "1";
  form.elements.qty.min = decimal ? "0.1" : "1";
  form.querySelector(".unit").textContent = p ? p.unit : "";
}

function reviewNode(review) {
  const form = el("form", { class: "approve host-only", "data-testid": "approve-form" },
    el("select", { name: "sku", "data-testid": "approve-product", required: true, "aria-label": "Sản phẩm",
      onchange: () => fitForm(form) }, productOptions(review.sku)),
    el("select", { name: "variant", "data-testid": "approve-variant", "aria-label": "Phân loại", hidden: true }),
    el("label", { class: "qty" },
      el("input", { name: "qty", type: "number", inputmode: "decimal", value: review.qty > 0 ? review.qty : 1,
        required: true, "data-testid": "approve-qty", "aria-label": "Số lượng" }),
      el("span", { class: "unit" })),
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "btn primary", "data-testid": "approve", text: "Duyệt" }),
      el("button", { type: "button", class: "btn danger", "data-testid": "reject", text: "Từ chối",
        onclick: () => reject(review, form) })),
  );
  form.addEventListener("submit", (event) => { event.preventDefault(); approve(review, form); });
  fitForm(form);
  if (review.variant) form.elements.variant.value = review.variant;
  for (const control of form.elements) control.disabled = !state.host;
  return el("li", { class: "review", "data-testid": "review", "data-review-id": review.review_id },
    el("div", { class: "review-top" },
      el("span", { class: "customer", "data-testid": "review-customer", text: review.customer_name || "Khách" }),
      el("span", { class: "missing", "data-testid": "review-missing", text: MISSING[review.missing] || review.missing || "cần xem lại" }),
      el("time", { class: "time", text: timeText(review.ts) })),
    el("blockquote", { "data-testid": "review-text", text: review.text || "(không còn nội dung bình luận)" }),
    form,
  );
}

function renderReviews() {
  // keep the nodes of items still pending: the host may be halfway through a form
  const list = byId("review-queue");
  const pending = new Set(state.reviews.map((r) => r.review_id));
  const shown = new Map();
  for (const node of [...list.children]) {
    if (pending.has(node.dataset.reviewId)) shown.set(node.dataset.reviewId, node);
    else node.remove();
  }
  let previous = null;
  for (const review of state.reviews) {
    const node = shown.get(review.review_id) || reviewNode(review);
    if (previous ? previous.nextSibling !== node : list.firstChild !== node) {
      list.insertBefore(node, previous ? previous.nextSibling : list.firstChild);
    }
    previous = node;
  }
  const count = String(state.reviews.length);
  byId("review-badge").textContent = count;
  byId("review-count").textContent = count;
  byId("review-badge").classList.toggle("zero", state.reviews.length === 0);
  byId("reviews-empty").hidden = state.reviews.length > 0;
}

// -- host actions ---------------------------------------------------------------------------

async function busy(form, work) {
  const controls = [...form.querySelectorAll("button, select, input")];
  controls.forEach((c) => { c.disabled = true; });
  try {
    await work();
  } catch (error) {
    toast(error.message, "error");
  } finally {
    controls.forEach((c) => { c.disabled = !state.host; });
  }
}

function approve(review, form) {
  const sku = form.elements.sku.value;
  const qty = Number(String(form.elements.qty.value).replace(",", "."));
  if (!sku) { toast("Chọn sản phẩm trước khi duyệt.", "error"); return; }
  const variant = form.elements.variant.hidden ? null : form.elements.variant.value || null;
  return busy(form, async () => {
    await api(streamPath(`/reviews/${encodeURIComponent(review.review_id)}/approve`), {
      method: "POST", json: { sku, variant, qty },
    });
    toast(`Đã duyệt: ${productName(sku)} × ${qtyText(qty)}`, "ok");
  });
}

function reject(review, form) {
  return busy(form, async () => {
    await api(streamPath(`/reviews/${encodeURIComponent(review.review_id)}/reject`), { method: "POST", json: {} });
    toast("Đã từ chối bình luận.", "ok");
  });
}

async function setCurrent(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const code = byId("current-select").value || null;
  await busy(form, async () => {
    await api(streamPath("/current"), { method: "POST", json: { code } });
    state.currentDirty = false;
    const p = productByCode(code);
    toast(p ? `Đang bán: ${p.code} – ${p.name}` : "Đã bỏ chọn sản phẩm đang bán.", "ok");
  });
}

async function exportCsv() {
  const button = byId("export-csv");
  button.disabled = true;
  try {
    const response = await api(streamPath("/orders.csv"), { headers: { Accept: "text/csv" } });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `don-hang-${state.stream}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    toast(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

// -- live updates ---------------------------------------------------------------------------

function setConnection(kind, label) {
  const pill = byId("connection");
  pill.dataset.state = kind;
  pill.querySelector(".conn-label").textContent = label;
}

function applySnapshot(snapshot) {
  state.summary = snapshot.summary;
  state.products = new Map(snapshot.products.map((p) => [p.sku, p]));
  state.orders = new Map(snapshot.orders.map((o) => [o.order_id, o]));
  state.reviews = snapshot.reviews;
  renderProducts();
  renderSummary();
  renderOrders();
  byId("review-queue").replaceChildren(); // product options may have changed
  renderReviews();
}

function connect() {
  clearTimeout(state.retryTimer);
  state.source?.close();
  setConnection("connecting", "Đang kết nối…");
  const query = state.token ? `?token=${encodeURIComponent(state.token)}` : "";
  const source = new EventSource(streamPath(`/events${query}`));
  state.source = source;
  const on = (kind, handle) => source.addEventListener(kind, (event) => {
    if (state.source === source) handle(JSON.parse(event.data));
  });
  // each (re)connection starts with a snapshot: whatever was missed while away is in it
  on("snapshot", (data) => { applySnapshot(data); state.retryDelay = 1000; setConnection("live", "Trực tiếp"); });
  on("order", (row) => upsertOrder(row, true));
  on("summary", (summary) => { state.summary = summary; renderSummary(); });
  on("stock", (products) => {
    for (const p of products) state.products.set(p.sku, p);
    renderStock();
  });
  on("reviews", (reviews) => { state.reviews = reviews; renderReviews(); });
  on("review", (review) => {
    // one item added, changed or gone: the queue is not re-sent whole on every change
    state.reviews = state.reviews.filter((r) => r.review_id !== review.review_id);
    if (!review.gone) {
      state.reviews.push(review);
      state.reviews.sort((a, b) => a.ts - b.ts);
    }
    renderReviews();
  });
  source.onerror = () => {
    if (state.source !== source) return;
    setConnection("down", "Mất kết nối, đang thử lại…");
    if (source.readyState === EventSource.CLOSED) {
      // the browser gave up (e.g. the server restarted): retry ourselves, backing off
      state.retryTimer = setTimeout(connect, state.retryDelay);
      state.retryDelay = Math.min(state.retryDelay * 2, 15000);
    }
  };
}

async function loadStreams() {
  const streams = await (await api("/api/streams")).json();
  state.streams = streams;
  const wanted = new URL(location.href).searchParams.get("stream");
  state.stream = streams.some((s) => s.id === wanted) ? wanted : streams[0]?.id;
  const picker = byId("stream-picker");
  picker.replaceChildren(...streams.map((s) => el("option", { value: s.id, text: s.title })));
  picker.value = state.stream || "";
  byId("stream-picker-wrap").hidden = streams.length < 2;
}

function chooseStream() {
  state.stream = byId("stream-picker").value;
  const url = new URL(location.href);
  url.searchParams.set("stream", state.stream);
  history.replaceState(null, "", url);
  state.currentDirty = false;
  connect();
}

async function start() {
  try {
    const me = await (await api("/api/me")).json();
    if (state.token && !me.host) {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = null;
      toast("Mã chủ phiên không đúng: trang chỉ xem.", "error");
    }
    setRole(me.host);
    await loadStreams();
  } catch (error) {
    setConnection("down", "Không tải được");
    toast(error.message, "error");
    setTimeout(start, 3000);
    return;
  }
  if (!state.stream) {
    byId("stream-title").textContent = "Chưa có phiên live nào";
    return;
  }
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  state.token = readToken();
  byId("current-form").addEventListener("submit", setCurrent);
  byId("current-select").addEventListener("change", () => { state.currentDirty = true; });
  byId("export-csv").addEventListener("click", exportCsv);
  byId("stream-picker").addEventListener("change", chooseStream);
  start();
});
