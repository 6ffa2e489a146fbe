"use strict";
// The config page: status every second, one form per settings section.
// Each form sends only what the user changed, as a JSON merge-patch.
var MASK = "********", cfg = {};
function $(s, el) { return (el || document).querySelector(s); }
function all(s, el) { return Array.prototype.slice.call((el || document).querySelectorAll(s)); }
function get(o, path) { return path.split(".").reduce(function (a, k) { return a == null ? a : a[k]; }, o); }
function put(o, path, v) {
  var ks = path.split("."), last = ks.pop();
  ks.forEach(function (k) { o = o[k] = o[k] || {}; });
  o[last] = v;
}
function api(method, path, body) {
  var opt = { method: method, headers: {} };
  if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
  return fetch(path, opt).then(function (r) {
    return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
  });
}
function show(id, text) { $("#" + id).textContent = text; }
function num(v) { return v == null ? "–" : Math.round(v).toString(); }

function fill() {
  all("[name]").forEach(function (el) {
    var v = get(cfg, el.name);
    if (el.type === "checkbox") el.checked = !!v;
    else if (el.type === "password") {
      el.value = ""; el.placeholder = v === MASK ? "set – leave empty to keep" : (el.dataset.ph || el.placeholder);
      el.nextSibling.classList.toggle("hide", v !== MASK); el.nextSibling.firstChild.checked = false;
    }
    else el.value = v == null ? "" : v;
  });
  toggle();
}
function toggle() {
  var nif = $("[name=DefaultNetIf]").value;
  all("fieldset[class^=if-]").forEach(function (f) { f.classList.toggle("hide", f.className.indexOf("if-" + nif) < 0); });
  all(".static").forEach(function (d) {
    var mode = $("select[name$=IpMode]", d.parentNode).value;
    d.classList.toggle("hide", mode !== "Static");
  });
}
function value(el) {
  if (el.type === "checkbox") return el.checked;
  if (el.type === "number") return el.step && el.step.indexOf(".") >= 0 ? parseFloat(el.value) : parseInt(el.value, 10);
  return el.value;
}
function fieldError(el, msg, text) {
  el.classList.add("invalid"); el.focus();
  $(".err", el.parentNode).textContent = text;
  msg.className = "msg bad"; msg.textContent = "Not saved: check " + el.name + ".";
}
function save(form) {
  var patch = {}, n = 0, msg = $(".msg", form), empty = null;
  all(".err", form).forEach(function (e) { e.textContent = ""; });
  all(".invalid", form).forEach(function (e) { e.classList.remove("invalid"); });
  all("[name]", form).forEach(function (el) {
    if (el.closest(".hide")) return;  // the other interface's settings: not shown, not sent
    var v = value(el);
    if (el.type === "password") {
      if (el.nextSibling.firstChild.checked) { put(patch, el.name, ""); n++; return; }  // "remove it"
      if (v === "") return;  // empty: keep the stored secret
    }
    if (el.type === "number" && isNaN(v)) { empty = empty || el; return; }  // not null: that means "default"
    if (v !== get(cfg, el.name)) { put(patch, el.name, v); n++; }
  });
  if (empty) { fieldError(empty, msg, "enter a number"); return; }
  if (!n) { msg.className = "msg"; msg.textContent = "Nothing changed."; return; }
  msg.className = "msg"; msg.textContent = "Saving…";
  api("PATCH", "/api/v1/config", patch).then(function (r) {
    if (r.status === 200) {
      cfg = r.body.config; fill();
      msg.className = "msg ok";
      msg.textContent = "Saved." + (r.body.reconnecting ? " Reconnecting the network…" :
        r.body.restart_needed ? " Restart the gateway to apply (Device, below)." : " Applied.");
      return;
    }
    var el = r.body.field && $("[name='" + r.body.field + "']", form);
    if (el && !el.closest(".hide")) { fieldError(el, msg, r.body.error); return; }
    msg.className = "msg bad";
    msg.textContent = "Not saved: " + (r.body.field ? r.body.field + ": " : "") + (r.body.error || "HTTP " + r.status);
  }).catch(function () { msg.className = "msg bad"; msg.textContent = "Not saved: the gateway did not answer."; });
}
function status() {
  api("GET", "/api/v1/status").then(function (r) {
    if (r.status !== 200) throw new Error("HTTP " + r.status);
    var s = r.body, m = s.meter || {}, n = s.network || {}, q = s.mqtt, b = s.modbus;
    show("serial", s.serial || "");
    show("p", num(m.power_w)); show("p1", num(m.power_l1_w)); show("p2", num(m.power_l2_w)); show("p3", num(m.power_l3_w));
    var tic = /^tic/.test(m.protocol_version || "");  // French meter: no model, power in VA
    show("s-meter", tic ? "TIC " + m.protocol_version.slice(4) + " · " + m.id : m.model ? m.model + " · DSMR " + m.protocol_version : "no telegram yet");
    show("s-age", (m.age_ms == null ? (m.telegrams ? "over an hour ago" : "never") : (m.age_ms / 1000).toFixed(1) + " s ago") + (m.telegrams ? " (" + m.telegrams + " telegrams)" : ""));
    show("s-net", (n.iface || "–") + " · " + (n.ip || "no address") + (n.link_local ? " (link-local: no DHCP server, still asking)" : "") + (n.rssi != null ? " · " + n.rssi + " dBm" : "") + (n.mdns ? " · " + n.mdns : "") + (n.ap ? " · access point on" : ""));
    show("s-mqtt", !q || !q.enabled ? "off" : (q.connected ? "connected" : "not connected") + (q.last_error ? " · " + q.last_error : ""));
    show("s-modbus", b ? b.clients + " client(s), " + b.requests + " requests" : "–");
    show("s-fw", s.firmware ? s.firmware.version + " (" + s.firmware.build + ")" : "–");
    show("s-mem", s.free_heap == null ? "–" : Math.round(s.free_heap / 1024) + " KB · up " + Math.round(s.uptime_s / 60) + " min");
  }).catch(function () {  // old values must not look live
    show("s-age", "the gateway is not answering");
    ["p", "p1", "p2", "p3"].forEach(function (id) { show(id, "–"); });
  }).then(function () { setTimeout(status, 1000); });
}

all("input[type=password]").forEach(function (el) {
  el.dataset.ph = el.placeholder;
  var box = document.createElement("span");  // shown while a secret is stored: the way to clear it
  box.className = "clear hide";
  box.innerHTML = '<input type="checkbox"> remove it';
  el.parentNode.insertBefore(box, el.nextSibling);
});
all("select").forEach(function (el) { el.addEventListener("change", toggle); });
all("form").forEach(function (f) {
  f.addEventListener("submit", function (e) { e.preventDefault(); save(f); });
  f.addEventListener("input", function () { $(".msg", f).textContent = ""; });  // no stale "Saved."
});
$("#scan").addEventListener("click", function () {
  var btn = this; btn.textContent = "Scanning…";
  api("GET", "/api/v1/wifi/scan").then(function (r) {
    if (r.status !== 200) { btn.textContent = "Scan failed: " + (r.body.error || r.status) + " – try again"; return; }
    var dl = $("#ssids"); dl.textContent = "";
    r.body.forEach(function (ap) {
      var o = document.createElement("option"); o.value = ap.ssid; o.label = ap.rssi + " dBm" + (ap.secure ? "" : " (open)"); dl.appendChild(o);
    });
    btn.textContent = r.body.length + " networks found – tap the field to pick";
  }).catch(function () { btn.textContent = "Scan failed: the gateway did not answer – try again"; });
});
function reset(body, doing) {
  api("POST", "/api/v1/reset", body).then(function (r) {
    show("restart-msg", r.status === 200 ? doing : "Failed: " + (r.body.error || r.status));
  }).catch(function () { show("restart-msg", "Failed: the gateway did not answer."); });
}
$("#reconnect").addEventListener("click", function () { reset({}, "Reconnecting…"); });
$("#restart").addEventListener("click", function () {
  reset({restart: true}, "Restarting… the values above come back in a few seconds.");
});
api("GET", "/api/v1/config").then(function (r) { cfg = r.body; fill(); });
status();
