// Typeset the math in model and question text with KaTeX, which ships in the package.
// KaTeX reads text nodes only and builds its own markup; `trust: false` keeps \href, \url and
// \htmlClass off, so hostile text cannot add links, classes or scripts through it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (typeof renderMathInElement !== "function") return;
  var options = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "$", right: "$", display: false },
    ],
    throwOnError: false,
    trust: false,
    strict: "ignore",
    maxExpand: 200,
    maxSize: 20,
  };
  // A bare \boxed{...} (the usual final answer) is math too: wrap it in \( \) where it is not
  // already inside delimiters. Only text nodes change; no markup is ever built from text.
  var boxed = /\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}/g;
  var math = /(\$\$[\s\S]*?\$\$|\$[^$]*\$|\\\([\s\S]*?\\\)|\\\[[\s\S]*?\\\])/;
  function wrapBoxed(el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.indexOf("\\boxed{") < 0) continue;
      // split() with a capturing group: odd parts are the delimited math, left as they are
      node.nodeValue = node.nodeValue
        .split(math)
        .map(function (part, i) {
          return i % 2 ? part : part.replace(boxed, "\\(\\boxed{$1}\\)");
        })
        .join("");
    }
  }
  document.querySelectorAll(".tex").forEach(function (el) {
    try {
      wrapBoxed(el);
      renderMathInElement(el, options);
    } catch (e) {
      // text that is not math stays as it is
    }
  });
  document.body.setAttribute("data-math", "done");
});
