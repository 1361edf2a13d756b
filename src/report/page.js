(function () {
  "use strict";
  var keys = ["region", "preset", "verdict", "status", "review", "module", "q"];
  var form = document.getElementById("f");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var groups = document.querySelectorAll(".group");
  var shown = document.getElementById("shown");
  // Filters live in the URL fragment (#region=US&verdict=duplicate&q=…), so a filtered view
  // can be bookmarked or sent; a fragment without "=" is a plain anchor and clears them.
  function read() {
    var o = {};
    location.hash.slice(1).split("&").forEach(function (p) {
      var i = p.indexOf("=");
      if (i > 0) {
        var k = decodeURIComponent(p.slice(0, i));
        if (keys.indexOf(k) >= 0) o[k] = decodeURIComponent(p.slice(i + 1));
      }
    });
    return o;
  }
  function apply() {
    var o = read(), q = (o.q || "").toLowerCase(), n = 0;
    keys.forEach(function (k) { form.elements[k].value = o[k] || ""; });
    cards.forEach(function (c) {
      var d = c.dataset;
      var ok = (!o.region || d.region === o.region) && (!o.preset || d.preset === o.preset) &&
        (!o.verdict || d.verdict === o.verdict) && (!o.status || d.status === o.status) &&
        (!o.review || d.review === o.review) &&
        (!o.module || d.modules.indexOf("|" + o.module + "|") >= 0) &&
        (!q || d.q.indexOf(q) >= 0);
      c.hidden = !ok;
      if (ok) n++;
    });
    Array.prototype.forEach.call(groups, function (g) {
      g.hidden = !g.querySelector(".card:not([hidden])");
    });
    shown.textContent = n + " of " + cards.length + " shown";
    document.body.setAttribute("data-shown", n);
  }
  function write() {
    var p = [];
    keys.forEach(function (k) {
      var v = form.elements[k].value;
      if (v) p.push(k + "=" + encodeURIComponent(v));
    });
    location.hash = p.join("&");
  }
  form.addEventListener("input", write);
  form.addEventListener("submit", function (e) { e.preventDefault(); write(); });
  window.addEventListener("hashchange", apply);
  document.querySelectorAll("tr[data-module]").forEach(function (tr) {
    tr.addEventListener("click", function () {
      location.hash = "module=" + encodeURIComponent(tr.getAttribute("data-module"));
    });
  });
  // A video's preview is the output itself, made only when asked for (hover or click), so
  // a page of a thousand videos loads a thousand small JPEGs and no video.
  function preview(t, click) {
    var v = t.querySelector("video");
    if (!v) {
      v = document.createElement("video");
      v.muted = true; v.loop = true; v.playsInline = true; v.preload = "auto";
      v.src = t.getAttribute("data-video");
      t.appendChild(v);
    }
    if (click) { v.muted = !v.muted; }
    var p = v.play();
    if (p && p.catch) p.catch(function () {});
  }
  document.addEventListener("mouseover", function (e) {
    var t = e.target.closest && e.target.closest(".thumb[data-video]");
    if (t) preview(t, false);
  });
  document.addEventListener("mouseout", function (e) {
    var t = e.target.closest && e.target.closest(".thumb[data-video]");
    var v = t && t.querySelector("video");
    if (v && !t.contains(e.relatedTarget)) v.pause();
  });
  document.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest(".thumb[data-video]");
    if (t) { e.preventDefault(); preview(t, true); }
  });
  // A results plot that does not load (the page copied without report_files/, a plot
  // deleted) says so in words instead of a broken-image icon; one that loads is marked
  // with the size it decoded to.
  document.querySelectorAll("figure.plot img").forEach(function (img) {
    var fig = img.closest("figure");
    function loaded() {
      if (img.naturalWidth === 0) return broken();
      fig.setAttribute("data-loaded", img.naturalWidth + "x" + img.naturalHeight);
    }
    function broken() {
      fig.classList.add("broken");
      var p = document.createElement("p");
      p.className = "bad";
      p.textContent = "plot missing: " + img.getAttribute("src") +
        " (factory report OUT --library LIB writes it again)";
      fig.appendChild(p);
    }
    if (img.complete) loaded();
    else {
      img.addEventListener("load", loaded);
      img.addEventListener("error", broken);
    }
  });
  apply();
})();
