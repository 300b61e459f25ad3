// The leaderboard site's only script: sort a table by any header, filter it by team name (or by a row's own
// data-filter text), name a plot point on hover. It reads the page's own DOM and fetches nothing; every page works
// without it.
"use strict";

function sortKey(cell, numeric) {
  const raw = cell.dataset.sort ?? cell.textContent.trim();
  if (!numeric) return raw.toLowerCase();
  const number = Number(raw);
  return raw === "" || Number.isNaN(number) ? null : number;
}

function sortBy(table, th) {
  const headers = Array.from(table.tHead.rows[0].cells);
  const column = headers.indexOf(th);
  const numeric = th.dataset.type === "num";
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  const rows = Array.from(table.tBodies[0].rows);
  const keyed = rows.map((row, index) => ({ row, index, key: sortKey(row.cells[column], numeric) }));
  keyed.sort((a, b) => {
    if (a.key === null || b.key === null) {  // n/a last, whichever the direction
      return a.key === b.key ? a.index - b.index : a.key === null ? 1 : -1;
    }
    const order = numeric ? a.key - b.key : a.key.localeCompare(b.key);
    return (ascending ? order : -order) || a.index - b.index;
  });
  headers.forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const body = table.tBodies[0];
  keyed.forEach(({ row }) => body.appendChild(row));
}

function filterRows(table, input, count) {
  const query = input.value.trim().toLowerCase();
  let shown = 0;
  for (const row of table.tBodies[0].rows) {
    const hit = (row.dataset.filter ?? row.cells[0].textContent).toLowerCase().includes(query);
    row.hidden = !hit;
    shown += hit ? 1 : 0;
  }
  if (count) count.textContent = `${shown} of ${table.tBodies[0].rows.length} shown`;
}

for (const table of document.querySelectorAll("table.sortable")) {
  for (const th of table.tHead.rows[0].cells) {
    const button = th.querySelector("button");
    if (button) button.addEventListener("click", () => sortBy(table, th));
  }
  const input = document.querySelector(`input[data-filter="${table.id}"]`);
  if (input) {
    const count = document.querySelector(`[data-count="${table.id}"]`);
    input.addEventListener("input", () => filterRows(table, input, count));
  }
}

const tip = document.getElementById("tip");
for (const point of document.querySelectorAll("svg.plot [data-name]")) {
  const show = () => {
    tip.textContent = point.dataset.name;
    tip.hidden = false;
    const box = point.getBoundingClientRect();
    const right = document.documentElement.clientWidth - tip.offsetWidth - 4;  // kept on a phone's screen
    tip.style.left = `${window.scrollX + Math.max(0, Math.min(box.right + 6, right))}px`;
    tip.style.top = `${window.scrollY + box.top - tip.offsetHeight - 4}px`;
  };
  const hide = () => { tip.hidden = true; };
  point.addEventListener("mouseenter", show);
  point.addEventListener("focus", show);
  point.addEventListener("mouseleave", hide);
  point.addEventListener("blur", hide);
}
