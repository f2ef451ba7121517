/* druginfo embed: place <div data-druginfo="SLUG" data-part="faqs|side-effects"></div> and load this
 * script. Each such element gets an iframe of the widget, sized to its content. Optional attributes:
 * data-theme="light|dark|auto", data-locale="en", data-title="…" (the iframe's accessible name).
 * Nothing is added to the host page but the iframes: no global CSS, no globals. */
(function () {
  "use strict";
  var PARTS = { "faqs": "Questions and answers", "side-effects": "Side effects" };
  var SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
  var LOCALE = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}$/;
  var MAX_HEIGHT = 100000;

  var script = document.currentScript;
  if (!script) {
    var candidates = document.querySelectorAll('script[src*="embed.js"]');
    script = candidates[candidates.length - 1];
  }
  if (!script || !script.src) return;
  var origin = new URL(script.src, document.baseURI).origin;
  var frames = [];

  window.addEventListener("message", function (event) {
    // Only our own widget frames may resize themselves, and only with a well-formed message.
    if (event.origin !== origin) return;
    var data = event.data;
    if (!data || typeof data !== "object" || data.type !== "druginfo:resize") return;
    var height = data.height;
    if (typeof height !== "number" || !isFinite(height) || height < 0 || height > MAX_HEIGHT) return;
    for (var i = 0; i < frames.length; i++) {
      var frame = frames[i];
      if (frame.contentWindow !== event.source) continue;
      frame.style.height = Math.ceil(height) + "px";
      if (!frame.getAttribute("data-druginfo-title") && typeof data.title === "string" &&
          data.title.length > 0 && data.title.length <= 300) {
        frame.title = data.title;
      }
      return;
    }
  });

  function place(host) {
    if (host.getAttribute("data-druginfo-ready") === "1") return;
    var slug = host.getAttribute("data-druginfo") || "";
    var part = host.getAttribute("data-part") || "faqs";
    if (!SLUG.test(slug) || !Object.prototype.hasOwnProperty.call(PARTS, part)) {
      if (window.console) console.warn("druginfo embed: bad data-druginfo or data-part on", host);
      return;
    }
    host.setAttribute("data-druginfo-ready", "1");
    var url = new URL("/embed/drugs/" + slug + "/" + part, origin);
    var theme = host.getAttribute("data-theme");
    if (theme === "light" || theme === "dark" || theme === "auto") url.searchParams.set("theme", theme);
    var locale = host.getAttribute("data-locale");
    if (locale && LOCALE.test(locale)) url.searchParams.set("locale", locale);

    var frame = document.createElement("iframe");
    var title = host.getAttribute("data-title");
    if (title) frame.setAttribute("data-druginfo-title", "1");
    frame.title = title || PARTS[part] + " (" + slug + ")";
    frame.src = url.href;
    frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox");
    // Style properties of our own element only (set through the CSSOM, which a host page's CSP allows).
    frame.style.display = "block";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = "240px";
    frames.push(frame);
    host.appendChild(frame);
  }

  function scan() {
    var hosts = document.querySelectorAll("[data-druginfo]");
    for (var i = 0; i < hosts.length; i++) place(hosts[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
