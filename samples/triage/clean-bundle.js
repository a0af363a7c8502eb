/*! fetch-helper 1.3.0 | MIT | bundled */
"use strict";var os=require("os"),https=require("https"),url=require("url");
// An ordinary bundle: it reads proxy settings and the time zone for its own
// use, and carries encoded data that is not a hidden table.
var ICON="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
var INTEGRITY="sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==";
var SHA256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
var DEFAULTS="eyJ0aW1lb3V0IjozMDAwMCwicmV0cmllcyI6MywidXNlckFnZW50IjoiZmV0Y2gtaGVscGVyLzEuMy4wIn0=";
var MIRRORS=["registry.npmjs.org","registry.yarnpkg.com","npm.pkg.github.com"];
var WS="\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2028\u2029\ufeff";
var GREETING={en:"Hello",ru:"Привет",el:"Καλημέρα",ja:"こんにちは"};
function proxyFor(target){var u=url.parse(target),env=process.env;var p=u.protocol==="https:"?env.HTTPS_PROXY||env.https_proxy:env.HTTP_PROXY||env.http_proxy;return p&&!noProxy(u.hostname)?p:null}
function noProxy(host){return(process.env.NO_PROXY||"").split(",").some(function(d){return d&&host.endsWith(d.trim())})}
const localTime=(d)=>new Intl.DateTimeFormat(undefined,{dateStyle:"medium",timeStyle:"short"}).format(d);
function config(){return Object.assign(JSON.parse(Buffer.from(DEFAULTS,"base64").toString()),{host:os.hostname()})}
function trim(s){return s.replace(new RegExp("^["+WS+"]+|["+WS+"]+$","g"),"")}
module.exports={proxyFor:proxyFor,localTime:localTime,config:config,trim:trim,ICON:ICON,INTEGRITY:INTEGRITY,SHA256:SHA256,MIRRORS:MIRRORS,GREETING:GREETING};
