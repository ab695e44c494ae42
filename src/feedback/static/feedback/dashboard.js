// NPS by month: the line with its 95% band, so small months are not over-read.
(function () {
  const source = document.getElementById("nps-chart-data");
  const canvas = document.getElementById("nps-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const upper = data.nps.map((v, i) => (v === null || data.margin[i] === null ? null : Math.min(100, v + data.margin[i])));
  const lower = data.nps.map((v, i) => (v === null || data.margin[i] === null ? null : Math.max(-100, v - data.margin[i])));
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        { label: "NPS", data: data.nps, borderColor: "#0f6b74", backgroundColor: "#0f6b74", pointStyle: "circle", pointRadius: 4, borderWidth: 3 },
        { label: "95% upper", data: upper, borderColor: "rgba(15,107,116,.25)", borderDash: [4, 4], pointRadius: 0, fill: "+1", backgroundColor: "rgba(15,107,116,.08)" },
        { label: "95% lower", data: lower, borderColor: "rgba(15,107,116,.25)", borderDash: [4, 4], pointRadius: 0 },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { min: -100, max: 100, title: { display: true, text: "NPS" } } },
      plugins: { legend: { labels: { filter: (item) => item.text === "NPS" } } },
    },
  });
})();
