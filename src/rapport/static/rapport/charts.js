// Draws every <canvas data-chart="…"> from the JSON spec it names (core/charts.py documents
// the format), so pages carry figures, not chart code. Series can be told apart without
// colour: a colour-blind-safe palette (Okabe–Ito) and, per series, a fill pattern for bars or
// a point style and dash for lines, which the legend repeats.
(function () {
  "use strict";
  const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];
  const PATTERNS = ["solid", "hatch", "dots", "cross", "rows", "columns"];
  const POINTS = ["circle", "rect", "triangle", "rectRot", "crossRot", "star"];
  const DASHES = [[], [6, 4], [2, 3], [8, 3, 2, 3], [12, 4], [1, 4]];
  const pick = (list, i) => list[i % list.length];

  // Line segments (x1, y1, x2, y2) on an 8×8 tile; diagonals reach past the corners so the
  // tiles join without gaps.
  const HATCH = [[0, 8, 8, 0], [-1, 1, 1, -1], [7, 9, 9, 7]];
  const MARKS = {
    hatch: HATCH,
    cross: HATCH.concat([[0, 0, 8, 8], [-1, 7, 1, 9], [7, -1, 9, 1]]),
    rows: [[0, 4, 8, 4]],
    columns: [[4, 0, 4, 8]],
  };

  // A bar fill: the plain colour, or a pale wash of it with marks in the full colour.
  function fill(colour, kind) {
    if (kind === "solid") return colour;
    const tile = document.createElement("canvas");
    tile.width = tile.height = 8;
    const ctx = tile.getContext("2d");
    ctx.fillStyle = colour + "40";
    ctx.fillRect(0, 0, 8, 8);
    ctx.fillStyle = ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    if (kind === "dots") {
      ctx.arc(4, 4, 1.75, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      for (const [x1, y1, x2, y2] of MARKS[kind]) {
        ctx.moveTo(x1, y1);
        ctx.lineTo(x2, y2);
      }
      ctx.stroke();
    }
    return ctx.createPattern(tile, "repeat");
  }

  // The margin of error as two faint dashed lines with the space between them shaded
  // (fill "+1": down to the next dataset), kept out of the legend.
  function band(series, base, axis) {
    const clamp = (v) => Math.min(axis.max ?? Infinity, Math.max(axis.min ?? -Infinity, v));
    const edge = (sign) =>
      series.values.map((v, i) =>
        v === null || series.band[i] === null ? null : clamp(v + sign * series.band[i]),
      );
    const colour = base.borderColor;
    const line = {
      ...base, isBand: true, borderColor: colour + "66", backgroundColor: colour + "1f",
      borderWidth: 1, borderDash: [4, 4], pointRadius: 0,
    };
    return [
      { ...line, label: series.label + " 95% upper", data: edge(1), fill: "+1" },
      { ...line, label: series.label + " 95% lower", data: edge(-1), fill: false },
    ];
  }

  function datasets(spec) {
    const valueAxisID = spec.horizontal ? "xAxisID" : "yAxisID";
    return spec.series.flatMap((series, i) => {
      const colour = pick(PALETTE, i);
      const base = {
        type: series.kind, label: series.label, data: series.values,
        [valueAxisID]: series.axis, borderColor: colour,
      };
      if (series.kind === "bar") {
        // order 1: drawn under the lines of a combo chart; "rect": a patterned legend box.
        const bar = { backgroundColor: fill(colour, pick(PATTERNS, i)), borderWidth: 1 };
        return [{ ...base, ...bar, pointStyle: "rect", order: 1 }];
      }
      const line = {
        ...base, backgroundColor: colour, borderWidth: 2.5, borderDash: pick(DASHES, i),
        pointStyle: pick(POINTS, i), pointRadius: 4, spanGaps: true, order: 0,
      };
      return series.band ? [line, ...band(series, line, spec.axes[series.axis])] : [line];
    });
  }

  // Value scales are named for their side ("left", "right"); the category scale keeps its
  // Chart.js name, x (or y for horizontal bars).
  function scales(spec) {
    const result = { [spec.horizontal ? "y" : "x"]: { stacked: spec.stacked } };
    for (const [name, axis] of Object.entries(spec.axes)) {
      result[name] = {
        axis: spec.horizontal ? "x" : "y",
        position: spec.horizontal ? (name === "left" ? "bottom" : "top") : name,
        min: axis.min ?? undefined,
        max: axis.max ?? undefined,
        beginAtZero: spec.series.some((s) => s.axis === name && s.kind === "bar"),
        stacked: spec.stacked,
        title: { display: Boolean(axis.title), text: axis.title },
        ticks: axis.integer ? { precision: 0 } : {},
        grid: { drawOnChartArea: name === "left" }, // one set of grid lines, not two
      };
    }
    return result;
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || !window.Chart || window.Chart.getChart(canvas)) return;
    const spec = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: spec.kind === "line" ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets(spec) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false },
        scales: scales(spec),
        plugins: {
          title: { display: Boolean(spec.title), text: spec.title },
          // One series needs no legend: the heading and aria-label name it.
          legend: {
            display: spec.series.length > 1,
            labels: {
              usePointStyle: true,
              filter: (item, data) => !data.datasets[item.datasetIndex].isBand,
            },
          },
        },
      },
    });
  }

  const drawAll = (root) => root.querySelectorAll("canvas[data-chart]").forEach(draw);
  drawAll(document);
  // Charts in content htmx swaps in later.
  document.addEventListener("htmx:load", (event) => drawAll(event.detail.elt));
})();
