// Departures by reason as horizontal bars; the table beside it carries the same figures.
(function () {
  const source = document.getElementById("departures-chart-data");
  const canvas = document.getElementById("departures-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{ label: "Patients who left", data: data.counts, backgroundColor: "#0f6b74" }],
    },
    options: {
      indexAxis: "y",
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { display: false } },
    },
  });
})();
