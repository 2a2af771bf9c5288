// The study dashboard: polls a small JSON endpoint and redraws SVG charts per locale.
// Plain SVG drawn here (no chart library); every text is set with textContent.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = {
    started: "#417690", completed: "#4b8a3c", screened_out: "#c07d00", timed_out: "#a33a3a",
  };
  const OUTCOME_LABELS = {
    started: "Started", completed: "Completed", screened_out: "Screened out", timed_out: "Timed out",
  };

  function el(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attributes) {
    const node = el("text", Object.assign({ x: x, y: y }, attributes || {}), parent);
    node.textContent = content;
    return node;
  }

  function svg(width, height, label) {
    return el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  }

  function legend(items) {
    const list = document.createElement("ul");
    list.className = "moodlab-legend";
    for (const [label, colour] of items) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "moodlab-swatch";
      swatch.style.background = colour;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(label));
      list.appendChild(item);
    }
    return list;
  }

  function emptyNote(message) {
    const note = document.createElement("p");
    note.textContent = message;
    return note;
  }

  function participantsChart(series) {
    if (!series.times.length) return emptyNote("No participant yet.");
    const W = 420, H = 200, L = 36, B = 24, T = 8, R = 8;
    const root = svg(W, H, "Participants over time");
    const top = Math.max(1, ...series.started);
    const x = (i) => L + (i * (W - L - R)) / (series.times.length - 1);
    const y = (v) => H - B - (v * (H - B - T)) / top;
    el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }, root);
    el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }, root);
    text(root, L - 4, y(top) + 4, String(top), { "text-anchor": "end" });
    text(root, L - 4, H - B + 4, "0", { "text-anchor": "end" });
    const first = new Date(series.times[0]), last = new Date(series.times[series.times.length - 1]);
    const time = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    text(root, L, H - 6, time(first));
    text(root, W - R, H - 6, time(last), { "text-anchor": "end" });
    for (const outcome of Object.keys(COLOURS)) {
      const points = series[outcome].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      el("polyline", { points: points.join(" "), fill: "none", stroke: COLOURS[outcome], "stroke-width": 2 }, root);
    }
    const box = document.createElement("div");
    box.appendChild(root);
    box.appendChild(legend(Object.keys(COLOURS).map((k) => [
      `${OUTCOME_LABELS[k]}: ${series[k][series[k].length - 1]}`, COLOURS[k]])));
    return box;
  }

  function histogramChart(bins, target) {
    if (!bins.length) return emptyNote("No selected terms yet: no cells to fill.");
    const W = 420, H = 200, L = 44, B = 30, T = 8, R = 8;
    const root = svg(W, H, "Ratings per cell against the target");
    const top = Math.max(1, ...bins.map((b) => b[1]));
    const step = (W - L - R) / bins.length;
    for (const [rated, cells] of bins) {
      const h = (cells * (H - B - T)) / top;
      const bar = el("rect", {
        x: L + rated * step + 1, y: H - B - h, width: Math.max(step - 2, 1), height: h,
        fill: rated >= target ? "#4b8a3c" : "#79aec8",
      }, root);
      const title = el("title", {}, bar);
      title.textContent = `${cells} cells with ${rated} ratings`;
      if (bins.length <= 25 || rated % 5 === 0) {
        text(root, L + rated * step + step / 2, H - B + 12, String(rated), { "text-anchor": "middle" });
      }
    }
    const tx = L + target * step;
    el("line", { x1: tx, y1: T, x2: tx, y2: H - B, stroke: "#a33a3a", "stroke-dasharray": "4 3" }, root);
    text(root, tx + 3, T + 10, `target ${target}`);
    text(root, L - 4, T + 10, String(top), { "text-anchor": "end" });
    text(root, (W + L) / 2, H - 4, "ratings in a song × term cell", { "text-anchor": "middle" });
    return root;
  }

  function heatmap(coverage, target, direction) {
    const { terms, songs, values } = coverage;
    if (!terms.length || !songs.length) return emptyNote("No songs or no selected terms yet.");
    const cell = Math.max(3, Math.min(14, Math.floor(400 / songs.length)));
    const rowH = 18, label = 130;
    const W = label + songs.length * cell + 4, H = terms.length * rowH + 24;
    const root = svg(W, H, "Song × term coverage");
    // Drawn at its own size: scaled to the column, a study with few songs got giant labels.
    root.style.maxWidth = `${W}px`;
    // In right-to-left text the anchor's "start" is the right edge, next to the cells.
    const anchor = direction === "rtl" ? "start" : "end";
    terms.forEach((term, t) => {
      text(root, label - 6, t * rowH + 13, term, { "text-anchor": anchor, direction: direction });
      songs.forEach((song, s) => {
        const v = values[s][t];
        const share = Math.min(1, v / target);
        const rect = el("rect", {
          x: label + s * cell, y: t * rowH + 1, width: Math.max(cell - 0.5, 1), height: rowH - 2,
          fill: v === 0 ? "#eee" : `rgba(65, 118, 144, ${0.2 + 0.8 * share})`,
        }, root);
        const title = el("title", {}, rect);
        title.textContent = `${song} × ${term}: ${v} of ${target}`;
      });
    });
    text(root, label, H - 4, `${songs.length} songs →`);
    const box = document.createElement("div");
    box.className = "moodlab-scroll";
    box.appendChild(root);
    return box;
  }

  function chainsChart(counts) {
    const total = counts.reduce((a, b) => a + b, 0);
    if (!total) return emptyNote("No chain yet: they are created as participants arrive.");
    const W = 420, H = 160, L = 36, B = 30, T = 8, R = 8;
    const root = svg(W, H, "Chains by turns done");
    const top = Math.max(1, ...counts);
    const step = (W - L - R) / counts.length;
    counts.forEach((n, turns) => {
      const h = (n * (H - B - T)) / top;
      el("rect", { x: L + turns * step + 2, y: H - B - h, width: step - 4, height: h,
        fill: turns === counts.length - 1 ? "#4b8a3c" : "#79aec8" }, root);
      text(root, L + turns * step + step / 2, H - B + 12, String(turns), { "text-anchor": "middle" });
      if (n) text(root, L + turns * step + step / 2, H - B - h - 2, String(n), { "text-anchor": "middle" });
    });
    text(root, (W + L) / 2, H - 4, "turns done (last bar: full chains)", { "text-anchor": "middle" });
    return root;
  }

  function figure(title, content, wide) {
    const box = document.createElement("figure");
    box.className = wide ? "moodlab-chart moodlab-chart-wide" : "moodlab-chart";
    const heading = document.createElement("h3");
    heading.textContent = title;
    box.appendChild(heading);
    box.appendChild(content);
    return box;
  }

  function render(root, data) {
    const container = root.querySelector(".moodlab-locales");
    container.replaceChildren();
    for (const locale of data.locales) {
      const card = document.createElement("section");
      card.className = "moodlab-locale";
      const heading = document.createElement("h2");
      heading.textContent = locale.code;
      card.appendChild(heading);
      const charts = document.createElement("div");
      charts.className = "moodlab-charts";
      charts.appendChild(figure("Participants over time", participantsChart(locale.participants)));
      charts.appendChild(figure(`Ratings per cell (target ${data.target})`, histogramChart(locale.ratings_per_cell, data.target)));
      charts.appendChild(figure("Chains filling", chainsChart(locale.chains)));
      charts.appendChild(figure("Coverage: ratings per song × term", heatmap(locale.coverage, data.target, locale.direction), true));
      card.appendChild(charts);
      container.appendChild(card);
    }
    const updated = new Date(data.updated_at);
    root.querySelector(".moodlab-updated").textContent =
      `Phase: ${data.phase}. Updated ${updated.toLocaleTimeString()}; the figures refresh by themselves.`;
  }

  async function refresh(root) {
    try {
      const response = await fetch(root.dataset.url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(root, await response.json());
      root.dataset.loaded = "true";
    } catch (error) {
      root.querySelector(".moodlab-updated").textContent = `Could not refresh the figures (${error.message}); trying again.`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("moodlab-dashboard");
    if (!root) return;
    refresh(root);
    setInterval(() => refresh(root), Number(root.dataset.interval) || 5000);
  });
})();
