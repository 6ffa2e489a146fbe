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
    var c = s.counters || {};
    show("s-bad", c.valid == null ? "–" : (c.implausible || 0) + " implausible · " + (c.crc_mismatch || 0) + " CRC errors · " +
      ((c.malformed || 0) + (c.parse_error || 0) + (c.too_long || 0)) + " unreadable");
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
all("form:not(#f-fw)").forEach(function (f) {
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
// Firmware: what runs, the other slot, the last update; the update form.
function sha256(m) {  // crypto.subtle exists only on https pages, and the gateway serves http
  var K = [], H = [], W = [], i, j, p = 2, n = 0;
  for (; n < 64; p++) {
    for (j = 2; j * j <= p && p % j; j++);
    if (j * j > p) { if (n < 8) H[n] = Math.pow(p, 1 / 2) * 4294967296 | 0; K[n++] = Math.pow(p, 1 / 3) * 4294967296 | 0; }
  }
  var L = m.length, e = (L + 72) >> 6 << 6, d = new Uint8Array(e);
  d.set(m); d[L] = 128;
  for (i = 1; i < 9; i++) d[e - i] = i < 5 ? (L * 8 >>> (8 * i - 8)) & 255 : (L / 536870912 >>> (8 * i - 40)) & 255;
  function r(x, k) { return x >>> k | x << (32 - k); }
  for (i = 0; i < e; i += 64) {
    var a = H[0], b = H[1], c = H[2], f = H[3], g = H[4], h = H[5], k = H[6], l = H[7], t, u;
    for (j = 0; j < 64; j++) {
      if (j < 16) W[j] = d[i + 4 * j] << 24 | d[i + 4 * j + 1] << 16 | d[i + 4 * j + 2] << 8 | d[i + 4 * j + 3];
      else { t = W[j - 15]; u = W[j - 2]; W[j] = W[j - 16] + (r(t, 7) ^ r(t, 18) ^ t >>> 3) + W[j - 7] + (r(u, 17) ^ r(u, 19) ^ u >>> 10) | 0; }
      t = l + (r(g, 6) ^ r(g, 11) ^ r(g, 25)) + (g & h ^ ~g & k) + K[j] + W[j] | 0;
      u = (r(a, 2) ^ r(a, 13) ^ r(a, 22)) + (a & b ^ a & c ^ b & c) | 0;
      l = k; k = h; h = g; g = f + t | 0; f = c; c = b; b = a; a = t + u | 0;
    }
    H[0] = H[0] + a | 0; H[1] = H[1] + b | 0; H[2] = H[2] + c | 0; H[3] = H[3] + f | 0;
    H[4] = H[4] + g | 0; H[5] = H[5] + h | 0; H[6] = H[6] + k | 0; H[7] = H[7] + l | 0;
  }
  return H.map(function (v) { return ("0000000" + (v >>> 0).toString(16)).slice(-8); }).join("");
}
function fwLast(u) {
  if (!u) return "none yet";
  if (u.outcome === "in_progress") return u.stage === "upload" ? "receiving " + (u.version || "") + ": " + u.bytes + " of " + u.total + " bytes"
    : u.version + " on probation, " + u.left_s + " s left";
  return u.outcome.replace("_", " ") + (u.version ? " (" + u.version + ")" : "") + (u.reason ? ": " + u.reason : "");
}
function fwShow() {
  return api("GET", "/api/v1/firmware").then(function (r) {
    var f = r.body;
    show("fw-run", f.version + (f.slot ? " · slot " + f.slot + " · board " + f.board : ""));
    show("fw-other", f.other_slot ? (f.other_slot.version || "empty") : "–");
    show("fw-last", fwLast(f.last));
    if (!f.updates) { show("fw-msg", "Updates over the network need the p1gw image; this installation is updated with make deploy."); $("#f-fw button").disabled = true; }
    return f;
  });
}
function fwWait(version, from, msg) {  // through the restart and the probation
  setTimeout(function () {
    fwShow().then(function (f) {
      var u = f.last || {};
      if (f.version === version && u.outcome === "ok") { msg.className = "msg ok"; msg.textContent = "Updated: " + version + " runs and passed its checks."; return; }
      if (f.version === from && u.outcome === "rolled_back") { msg.className = "msg bad"; msg.textContent = "Rolled back to " + from + ": " + u.reason; return; }
      if (f.version === version) msg.textContent = version + " is running, on probation…";
      fwWait(version, from, msg);
    }).catch(function () { fwWait(version, from, msg); });
  }, 1000);
}
$("#f-fw").addEventListener("submit", function (e) {
  e.preventDefault();
  var file = $("#fw-file").files[0], msg = $("#fw-msg"), prog = $("#fw-prog"), from = $("#fw-run").textContent.split(" ")[0];
  msg.className = "msg";
  if (!file) { msg.textContent = "Choose the firmware file first."; return; }
  msg.textContent = "Reading the file…";
  var rd = new FileReader();
  rd.onload = function () {
    var data = new Uint8Array(rd.result), x = new XMLHttpRequest();
    x.open("POST", "/api/v1/firmware?sha256=" + sha256(data) + ($("#fw-down").checked ? "&allow_downgrade=1" : ""));
    x.setRequestHeader("Content-Type", "application/octet-stream");
    prog.classList.remove("hide"); prog.value = 0;
    x.upload.onprogress = function (ev) { prog.value = Math.round(ev.loaded * 100 / ev.total); msg.textContent = "Uploading… " + prog.value + " %"; };
    x.onload = function () {
      var j = {}; try { j = JSON.parse(x.responseText); } catch (err) { }
      if (x.status === 200) { prog.value = 100; msg.textContent = "Restarting… into " + j.version; fwWait(j.version, from, msg); return; }
      prog.classList.add("hide"); msg.className = "msg bad";
      msg.textContent = "Not updated: " + (j.error || "HTTP " + x.status) + " (the running firmware is unchanged)";
    };
    x.onerror = function () { prog.classList.add("hide"); msg.className = "msg bad"; msg.textContent = "Not updated: the upload broke off."; };
    x.send(data);
  };
  rd.readAsArrayBuffer(file);
});
api("GET", "/api/v1/config").then(function (r) { cfg = r.body; fill(); });
fwShow();
status();
