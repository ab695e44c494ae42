// Cases opened and recovered by month: is the practice closing the loop on what goes wrong?
(function () {
  const source = document.getElementById("recovery-chart-data");
  const canvas = document.getElementById("recovery-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Opened", data: data.opened, backgroundColor: "#c9822b" },
        { label: "Recovered", data: data.recovered, backgroundColor: "#0f6b74" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
