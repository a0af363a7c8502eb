// md-lite 1.2.0: a small markdown renderer, as bundles carry one.
"use strict";
const entities = {
  amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: " ",
  zwj: "‍", zwnj: "‌", lrm: "‎", rlm: "‏",
  InvisibleComma: "⁣", InvisibleTimes: "⁢", NoBreak: "⁠",
  lsquo: "‘", rsquo: "’", ldquo: "“", rdquo: "”", ndash: "–", mdash: "—", hellip: "…",
};
const WORD = /[A-Za-zА-Яа-яёЁ0-9_]+/g;
const GREEK = new RegExp("[Α-Ωα-ωάέήίόύώ]+", "u");
const SLUG = /[^a-zа-яё0-9]+/g;

function decodeEntities(s) {
  return s.replace(/&([A-Za-z]+);/g, (m, name) => entities[name] ?? m);
}

function quote(open, double) {
  if (double) return open ? "“" : "”";
  return open ? "‘" : "’";
}

function typographer(s) {
  return s.replace(/--/g, "—").replace(/\.\.\./g, "…").replace(/'/g, "’");
}

function slug(s) {
  return s.toLowerCase().replace(SLUG, "-");
}

function words(s) {
  return (s.match(WORD) || []).concat(s.match(GREEK) || []);
}

function isoDate(d) {
  return d.toISOString().slice(0, 10).replace(/-/g, "/");
}

function render(src) {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return "<p>" + typographer(decodeEntities(src)) + "</p><footer>" + isoDate(new Date()) + " " + tz + "</footer>";
}

module.exports = { render, slug, words, quote };
