/* Twinsync console: the few things a page does in the browser (no inline script: CSP). */
(function () {
  "use strict";

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector(".copied");
    var done = function () { if (status) { status.textContent = "Copied to the clipboard."; } };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () {
        source.select(); document.execCommand("copy"); done();
      });
    } else {
      source.select(); document.execCommand("copy"); done();
    }
  }

  /* The admin-access redirect carries the code in the URL fragment (never sent to a
     server): fill the field with it, and keep it through the sign-in page. */
  function fromFragment() {
    var match = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
    if (!match) { return; }
    var code = decodeURIComponent(match[1]);
    document.querySelectorAll("[data-from-fragment=code]").forEach(function (field) {
      if (!field.value) { field.value = code; }
    });
    var next = document.getElementById("signin-next");
    if (next && next.value.indexOf("#") < 0) { next.value += window.location.hash; }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { copy(button); }
  });
  document.addEventListener("DOMContentLoaded", fromFragment);
})();
