// The review is submitted: drop the local draft copies kept in case the network failed.
(function () {
  "use strict";
  try {
    Object.keys(localStorage)
      .filter(function (k) { return k.indexOf("redline:draft:") === 0; })
      .forEach(function (k) { localStorage.removeItem(k); });
  } catch (e) { /* storage disabled: there is nothing to clear */ }
})();
