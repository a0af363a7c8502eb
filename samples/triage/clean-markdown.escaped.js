// md-lite 1.2.0: a small markdown renderer, as bundles carry one.
"use strict";
const entities = {
  amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00A0",
  zwj: "\u200D", zwnj: "\u200C", lrm: "\u200E", rlm: "\u200F",
  InvisibleComma: "\u2063", InvisibleTimes: "\u2062", NoBreak: "\u2060",
  lsquo: "\u2018", rsquo: "\u2019", ldquo: "\u201C", rdquo: "\u201D", ndash: "\u2013", mdash: "\u2014", hellip: "\u2026",
};
const WORD = /[A-Za-z\u0410-\u042F\u0430-\u044F\u0451\u04010-9_]+/g;
const GREEK = new RegExp("[\u0391-\u03A9\u03B1-\u03C9\u03AC\u03AD\u03AE\u03AF\u03CC\u03CD\u03CE]+", "u");
const SLUG = /[^a-z\u0430-\u044F\u04510-9]+/g;

function decodeEntities(s) {
  return s.replace(/&([A-Za-z]+);/g, (m, name) => entities[name] ?? m);
}

function quote(open, double) {
  if (double) return open ? "\u201C" : "\u201D";
  return open ? "\u2018" : "\u2019";
}

function typographer(s) {
  return s.replace(/--/g, "\u2014").replace(/\.\.\./g, "\u2026").replace(/'/g, "\u2019");
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
