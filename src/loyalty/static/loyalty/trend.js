// A patient's risk of leaving by month: a rising line is the early warning.
(function () {
  const source = document.getElementById("loyalty-chart-data");
  const canvas = document.getElementById("loyalty-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [{ label: "Risk", data: data.risk, borderColor: "#c9822b", backgroundColor: "#c9822b", pointRadius: 3 }],
    },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
  });
})();
