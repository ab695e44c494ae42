// A vendor by month: the patients' rating (line, 1–5) over its defects and cases (bars).
(function () {
  const source = document.getElementById("vendor-chart-data");
  const canvas = document.getElementById("vendor-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "line", label: "Rating (1–5)", data: data.average, yAxisID: "rating", borderColor: "#0f6b74", backgroundColor: "#0f6b74", pointRadius: 4, borderWidth: 3, spanGaps: true },
        { type: "bar", label: "Defects", data: data.defects, yAxisID: "count", backgroundColor: "#c9822b" },
        { type: "bar", label: "Cases", data: data.cases, yAxisID: "count", backgroundColor: "#8a5a9e" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        rating: { position: "left", min: 1, max: 5, title: { display: true, text: "Rating" } },
        count: { position: "right", beginAtZero: true, ticks: { precision: 0 }, grid: { drawOnChartArea: false } },
      },
    },
  });
})();
