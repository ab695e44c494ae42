// Inbound calls and missed calls by week: is the phone getting answered more often?
(function () {
  const source = document.getElementById("calls-chart-data");
  const canvas = document.getElementById("calls-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Calls", data: data.calls, backgroundColor: "#0f6b74" },
        { label: "Missed", data: data.missed, backgroundColor: "#c9822b" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
