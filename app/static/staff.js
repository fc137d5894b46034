// Staff pages: a link shown once is selected on focus, ready to copy.
(function () {
  "use strict";
  document.querySelectorAll("input.select-on-focus").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
})();
