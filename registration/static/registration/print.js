// The certificate's Print button (no inline script: a CSP comes later).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
