// The StatusTable's front end (an anywidget ES module; no build step).
//
// Rows live in the model's store, not in a synced trait, so that a change costs one row:
// the kernel sends {type: "rows", seq, upsert: [row], remove: [key]} and every view patches
// only those <tr>s. Each message carries a sequence number; a store that missed one (a
// message that came before this module was loaded, or a page reload) asks for
// {type: "sync", seen} and the kernel answers with {type: "reset", seq, rows}, or with
// {type: "synced"} when nothing was missed.

const STORES = new Map(); // table_id -> {rows, seq, views, asked}

function storeFor(model) {
  const id = model.get("table_id");
  let store = STORES.get(id);
  if (!store) {
    store = { rows: new Map(), seq: 0, views: new Set(), asked: false };
    STORES.set(id, store);
  }
  return store;
}

function askForAll(model, store) {
  if (!store.asked) {
    store.asked = true;
    model.send({ type: "sync", seen: store.seq });
  }
}

function onMessage(model, store, msg) {
  if (msg.type === "reset") {
    store.rows = new Map(msg.rows.map((row) => [row.key, row]));
    store.seq = msg.seq;
    store.asked = false;
    store.views.forEach((view) => view.redraw());
  } else if (msg.type === "rows") {
    if (msg.seq !== store.seq + 1) askForAll(model, store);
    store.seq = Math.max(store.seq, msg.seq);
    msg.remove.forEach((key) => store.rows.delete(key));
    msg.upsert.forEach((row) => store.rows.set(row.key, row));
    store.views.forEach((view) => view.patch(msg));
  } else if (msg.type === "synced") {
    store.asked = false; // nothing was missed
  }
}

function initialize({ model }) {
  const store = storeFor(model);
  const handler = (msg) => onMessage(model, store, msg);
  model.on("msg:custom", handler);
  askForAll(model, store);
  return () => {
    model.off("msg:custom", handler);
    STORES.delete(model.get("table_id"));
  };
}

const STYLE = `
.vw-table { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px; }
.vw-table .vw-title { font-weight: 600; margin-bottom: 2px; }
.vw-table .vw-status { color: #57606a; margin-bottom: 4px; }
.vw-table .vw-status .vw-down { color: #cf222e; font-weight: 600; }
.vw-table .vw-scroll { max-height: 420px; overflow: auto; }
.vw-table table { border-collapse: collapse; }
.vw-table th, .vw-table td { padding: 2px 8px; text-align: left; white-space: nowrap;
  border-bottom: 1px solid var(--jp-border-color2, #ddd); }
.vw-table th { position: sticky; top: 0; background: var(--jp-layout-color1, #fff); }
.vw-table.vw-selectable tbody tr { cursor: pointer; }
.vw-table tr.vw-selected td { background: var(--jp-brand-color3, #dbeafe); }
`;

function sortKey(row) {
  const c = row.cells;
  return `${c.uri || ""}\u0000${c.kind || ""}\u0000${c.name || ""}\u0000${c.id || ""}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const store = storeFor(model);
  const root = element("div", "vw-table");
  const style = element("style", "", STYLE);
  const title = element("div", "vw-title");
  const status = element("div", "vw-status");
  const scroll = element("div", "vw-scroll");
  const table = element("table");
  const thead = element("thead");
  const tbody = element("tbody");
  table.append(thead, tbody);
  scroll.append(table);
  root.append(style, title, status, scroll);
  el.append(root);
  const trs = new Map(); // key -> <tr>

  function cellText(row, column) {
    const text = row.cells[column] || "";
    // Docker ids are 64 hex digits: show 12, as `docker ps` does; the tooltip has all.
    return column === "id" && text.length > 24 ? text.slice(0, 12) : text;
  }

  function makeRow(row) {
    const tr = element("tr");
    tr.dataset.key = row.key;
    tr.dataset.sort = sortKey(row);
    for (const column of model.get("columns")) {
      const td = element("td", "", cellText(row, column));
      if (column === "id") td.title = row.cells.id || "";
      if (column === "state") {
        td.style.color = model.get("colours")[row.cells.state] || "#57606a";
        td.style.fontWeight = "600";
      }
      tr.append(td);
    }
    if (row.key === model.get("selected")) tr.classList.add("vw-selected");
    return tr;
  }

  function place(tr) {
    // Sorted insert: a linear scan is cheaper than re-sorting on every change.
    const sort = tr.dataset.sort;
    for (const other of tbody.children) {
      if (other.dataset.sort !== undefined && other.dataset.sort > sort) {
        tbody.insertBefore(tr, other);
        return;
      }
    }
    tbody.append(tr);
  }

  function placeholder() {
    if (store.rows.size === 0 && tbody.children.length === 0) {
      const td = element("td", "", "none");
      td.colSpan = model.get("columns").length;
      td.style.fontStyle = "italic";
      const tr = element("tr", "vw-none");
      tr.append(td);
      tbody.append(tr);
    } else if (store.rows.size > 0) {
      tbody.querySelectorAll("tr.vw-none").forEach((tr) => tr.remove());
    }
  }

  const view = {
    redraw() {
      thead.replaceChildren(element("tr"));
      for (const column of model.get("columns")) thead.firstChild.append(element("th", "", column));
      tbody.replaceChildren();
      trs.clear();
      const rows = [...store.rows.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
      for (const row of rows) {
        const tr = makeRow(row);
        trs.set(row.key, tr);
        tbody.append(tr);
      }
      placeholder();
    },
    patch(msg) {
      for (const key of msg.remove) {
        trs.get(key)?.remove();
        trs.delete(key);
      }
      for (const row of msg.upsert) {
        const tr = makeRow(row);
        const old = trs.get(row.key);
        if (old && old.dataset.sort === tr.dataset.sort) old.replaceWith(tr);
        else {
          old?.remove();
          place(tr);
        }
        trs.set(row.key, tr);
      }
      placeholder();
    },
  };

  function drawTitle() {
    title.textContent = model.get("title");
    title.style.display = model.get("title") ? "" : "none";
  }

  function drawStatus() {
    status.replaceChildren();
    model.get("status").forEach((source, index) => {
      if (index) status.append(" · ");
      status.append(`${source.label}: `);
      status.append(element("span", source.ok ? "vw-live" : "vw-down", source.text));
    });
  }

  function drawSelection() {
    const selected = model.get("selected");
    for (const [key, tr] of trs) tr.classList.toggle("vw-selected", key === selected);
  }

  root.classList.toggle("vw-selectable", model.get("selectable"));
  tbody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr");
    if (!model.get("selectable") || !tr || !tr.dataset.key) return;
    model.set("selected", tr.dataset.key === model.get("selected") ? "" : tr.dataset.key);
    model.save_changes();
  });

  store.views.add(view);
  const listeners = [
    ["change:columns", () => view.redraw()],
    ["change:status", drawStatus],
    ["change:title", drawTitle],
    ["change:selected", drawSelection],
  ];
  listeners.forEach(([name, callback]) => model.on(name, callback));
  drawTitle();
  drawStatus();
  view.redraw();
  return () => {
    store.views.delete(view);
    listeners.forEach(([name, callback]) => model.off(name, callback));
  };
}

export default { initialize, render };
