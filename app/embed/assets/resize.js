(function () {
  "use strict";
  if (window.parent === window) return;
  var last = -1;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    // The height and title are not secret, and this page cannot know its embedder's origin
    // (framed cross-origin), hence "*"; the embedder checks that the message comes from us.
    window.parent.postMessage({ type: "druginfo:resize", height: height, title: document.title }, "*");
  }
  if (typeof ResizeObserver === "function") new ResizeObserver(report).observe(document.documentElement);
  document.addEventListener("toggle", report, true);
  window.addEventListener("load", report);
  report();
})();
