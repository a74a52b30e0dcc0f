// The iotcore-local console: plain JavaScript over the emulator's HTTP API (the same routes the
// AWS SDKs use, unsigned), its /_iotcore/ routes, and MQTT over WebSocket at /mqtt. Everything is built with DOM calls and
// textContent, never innerHTML, so names and payloads are shown, not interpreted.
"use strict";

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const svg = ["svg", "line", "path", "rect", "text", "g", "polygon"].includes(tag);
  const e = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, opts) {
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
  if (!resp.ok) {
    const msg = body && body.message ? body.message : text;
    throw new Error(resp.status + " " + msg);
  }
  return body;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  return d.toLocaleTimeString() + "." + String(d.getMilliseconds()).padStart(3, "0");
}

// ---- pages ----

const pages = {
  things: loadThings,
  certificates: loadCertificates,
  policies: loadPolicies,
  connections: loadConnections,
  shadow: loadShadowPage,
  decisions: loadDecisions,
  mqtt: openMQTT,
};

function show() {
  const name = (location.hash || "#things").slice(1);
  const page = pages[name] ? name : "things";
  document.querySelectorAll(".page").forEach((p) => p.classList.toggle("active", p.id === "page-" + page));
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  pages[page]().catch((e) => report(page, e));
}

function report(page, e) {
  const section = $("#page-" + page);
  let p = section.querySelector(".error");
  if (!p) { p = el("p", { class: "error bad" }); section.prepend(p); }
  p.textContent = e.message;
}

async function loadThings() {
  const out = await api("/things");
  fill($("#things-table tbody"), (out.things || []).map((t) =>
    el("tr", { class: "clickable", "data-thing": t.thingName },
      el("td", {}, t.thingName), el("td", {}, t.thingTypeName || ""),
      el("td", {}, Object.entries(t.attributes || {}).map(([k, v]) => k + "=" + v).join(", ")),
      el("td", {}, t.version), el("td", {}, el("a", { href: "#shadow", "data-shadow": t.thingName }, "shadow")))));
  document.querySelectorAll("[data-shadow]").forEach((a) => a.addEventListener("click", () => { shadowThing = a.dataset.shadow; }));
}

async function loadCertificates() {
  const [out, conns] = await Promise.all([api("/certificates"), api("/_iotcore/connections")]);
  const counts = {};
  for (const r of conns) if (r.certificateId) counts[r.certificateId] = (counts[r.certificateId] || 0) + 1;
  fill($("#certs-table tbody"), (out.certificates || []).map((c) =>
    el("tr", {}, el("td", { class: "mono" }, c.certificateId),
      el("td", { class: c.status === "ACTIVE" ? "ok" : "bad" }, c.status),
      el("td", {}, c.creationDate ? new Date(c.creationDate * 1000).toLocaleString() : ""),
      el("td", {}, counts[c.certificateId] || 0))));
}

let certificates = [];

async function loadPolicies() {
  const [out, certs] = await Promise.all([api("/policies"), api("/certificates")]);
  certificates = certs.certificates || [];
  $("#policy-list").replaceChildren(...(out.policies || []).map((p) => {
    const li = el("li", { "data-policy": p.policyName }, p.policyName);
    li.addEventListener("click", async () => {
      try {
        const doc = await api("/policies/" + encodeURIComponent(p.policyName));
        $("#policy-doc").textContent = JSON.stringify(JSON.parse(doc.policyDocument), null, 2);
      } catch (e) { $("#policy-doc").textContent = e.message; }
    });
    return li;
  }));
  $("#ta-cert").replaceChildren(...certificates.map((c) => el("option", { value: c.certificateArn }, c.certificateId.slice(0, 16) + "… (" + c.status + ")")));
}

async function testAuthorization(ev) {
  ev.preventDefault();
  const clientId = $("#ta-client").value.trim();
  const body = {
    principal: $("#ta-cert").value,
    authInfos: [{ actionType: $("#ta-action").value, resources: [$("#ta-resource").value.trim()] }],
  };
  const q = clientId ? "?clientId=" + encodeURIComponent(clientId) : "";
  try {
    const out = await api("/test-authorization" + q, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const r = out.authResults[0];
    $("#ta-result").textContent = r.authDecision + "\n\n" + JSON.stringify(r, null, 2);
    $("#ta-result").className = "doc " + (r.authDecision === "ALLOWED" ? "ok" : "bad");
  } catch (e) {
    $("#ta-result").textContent = e.message;
    $("#ta-result").className = "doc bad";
  }
}

// ---- connections ----

let records = new Map(); // id → record
let stream = null;
let selected = null;

function connFilter() {
  const f = new FormData($("#conn-filter"));
  const q = new URLSearchParams();
  for (const [k, v] of f) if (v) q.set(k, v);
  return q.toString();
}

async function loadConnections() {
  const q = connFilter();
  const recs = await api("/_iotcore/connections" + (q ? "?" + q : ""));
  records = new Map(recs.map((r) => [r.id, r]));
  drawConnections();
  if (stream) stream.close();
  stream = new EventSource("/_iotcore/connections/stream" + (q ? "?" + q : ""));
  stream.onopen = () => { $("#conn-live").textContent = "live"; };
  stream.onerror = () => { $("#conn-live").textContent = "live: reconnecting…"; };
  stream.addEventListener("record", (ev) => {
    const r = JSON.parse(ev.data);
    records.set(r.id, r);
    drawConnections();
    if (selected === r.id) drawDetail(r);
  });
}

function outcomeClass(o) { return o === "ok" ? "ok" : "bad"; }

function drawConnections() {
  const rows = [...records.values()].sort((a, b) => (a.started < b.started ? 1 : -1)).slice(0, 300);
  fill($("#conn-table tbody"), rows.map((r) => {
    const tr = el("tr", { class: "clickable" + (selected === r.id ? " selected" : ""), "data-id": r.id, "data-client": r.clientId },
      el("td", {}, fmtTime(r.started)), el("td", {}, r.clientId || "—"), el("td", {}, r.sni || "—"),
      el("td", {}, (r.alpnOffered || []).join(",") || "none", " → ", r.alpnSelected || "none"),
      el("td", {}, r.tlsVersion || "—"),
      el("td", { class: outcomeClass(r.outcome) }, r.outcome + (r.open ? " (open)" : "")));
    tr.addEventListener("click", () => { selected = r.id; drawConnections(); drawDetail(records.get(r.id)); });
    return tr;
  }));
}

// Where each step is drawn: from the client, from the emulator, or as a note on the emulator.
function direction(s) {
  switch (s.step) {
    case "tcp accepted": case "ClientHello": case "client certificate": case "CONNECT": return "right";
    case "ServerHello": case "CertificateRequest": return "left";
    case "alert": return /client (aborted|most likely rejected)|rejected the server certificate|closed the connection/.test(s.detail) ? "right" : "left";
    case "disconnect": return s.detail.startsWith("CLIENT_INITIATED") ? "right" : "left";
    default: return "note";
  }
}

function shorten(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

function sequenceDiagram(r) {
  const W = 640, L = 90, R = 550, top = 50, row = 46;
  const steps = r.steps || [];
  const H = top + steps.length * row + 30;
  const svg = el("svg", { class: "seq", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "handshake sequence diagram" });
  svg.append(
    el("rect", { class: "actor", x: L - 60, y: 8, width: 120, height: 26, rx: 4 }),
    el("text", { x: L, y: 26, "text-anchor": "middle" }, "client " + (r.remote || "")),
    el("rect", { class: "actor", x: R - 60, y: 8, width: 120, height: 26, rx: 4 }),
    el("text", { x: R, y: 26, "text-anchor": "middle" }, "emulator (" + r.listener + ")"),
    el("line", { class: "lifeline", x1: L, y1: 34, x2: L, y2: H - 10 }),
    el("line", { class: "lifeline", x1: R, y1: 34, x2: R, y2: H - 10 }));
  steps.forEach((s, i) => {
    const y = top + i * row + 14;
    const dir = direction(s);
    const bad = s.step === "alert" || s.step === "refused" || (s.step === "disconnect" && !s.detail.startsWith("CLIENT_INITIATED"));
    let label = s.step;
    let alpn = null;
    if (s.step === "ServerHello") {
      const m = /ALPN ([^;]+)$/.exec(s.detail);
      if (m) alpn = "ALPN chosen: " + m[1];
    } else if (s.step === "ClientHello") {
      const m = /ALPN ([^;]+);/.exec(s.detail);
      label += " (ALPN " + (m ? m[1] : "?") + ")";
      if (/no personality of this listener serves/.test(s.detail)) alpn = "no ALPN match → alert 120";
    } else if (s.step === "alert" && /no_application_protocol/.test(s.detail)) {
      alpn = "alert 120 no_application_protocol";
    }
    const g = el("g", { "data-step": s.step });
    if (alpn && dir !== "note") {
      // The ALPN decision: highlighted behind the arrow's label.
      label = s.step + " — " + alpn;
      const w = Math.min(6.6 * label.length + 16, R - L - 20);
      g.append(el("rect", { class: "alpn", x: (L + R) / 2 - w / 2, y: y - 11, width: w, height: 17, rx: 3, "data-alpn": "decision" }));
      alpn = null;
    }
    if (dir === "note") {
      g.append(el("rect", { class: "note", x: R - 250, y: y - 12, width: 240, height: 34, rx: 3 }),
        el("text", { x: R - 244, y: y + 2 }, shorten(label, 40)),
        el("text", { x: R - 244, y: y + 16, class: "muted", fill: "#6a737d" }, shorten(s.detail, 44)));
    } else {
      const [x1, x2] = dir === "right" ? [L, R] : [R, L];
      const head = dir === "right" ? `${x2},${y + 8} ${x2 - 9},${y + 3} ${x2 - 9},${y + 13}` : `${x2},${y + 8} ${x2 + 9},${y + 3} ${x2 + 9},${y + 13}`;
      g.append(el("line", { class: "arrow" + (bad ? " bad" : ""), x1, y1: y + 8, x2, y2: y + 8 }),
        el("polygon", { points: head, fill: bad ? "#cf222e" : "#24292f" }),
        el("text", { x: (L + R) / 2, y: y + 2, "text-anchor": "middle", fill: bad ? "#cf222e" : "#24292f" }, shorten(label, 70)),
        el("text", { x: (L + R) / 2, y: y + 22, "text-anchor": "middle", fill: "#6a737d" }, shorten(s.detail, 80)));
    }
    if (alpn) {
      g.append(el("rect", { class: "alpn", x: L + 8, y: y - 14, width: 7 * alpn.length + 12, height: 18, rx: 3, "data-alpn": "decision" }),
        el("text", { x: L + 14, y: y - 1 }, alpn));
    }
    svg.append(g);
  });
  return svg;
}

function drawDetail(r) {
  if (!r) return;
  const facts = [
    ["client id", r.clientId || "—"], ["outcome", r.outcome + (r.open ? " (open)" : "")], ["detail", r.detail],
    ["SNI", r.sni || "—"], ["ALPN offered", (r.alpnOffered || []).join(", ") || "none"], ["ALPN selected", r.alpnSelected || "none"],
    ["TLS", (r.tlsVersion || "—") + " " + (r.cipherSuite || "")], ["personality", r.personality || "—"],
    ["certificate", (r.certificateId || "—") + (r.certificateKnown ? " (" + r.certificateStatus + ")" : r.certificateId ? " (not registered)" : "")],
    ["TLS faults", (r.tlsFaults || []).join(", ") || "none"],
  ];
  $("#conn-detail").replaceChildren(
    el("h3", {}, "Connection " + r.id),
    el("table", { class: "facts" }, el("tbody", {}, facts.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))))),
    sequenceDiagram(r),
    el("table", { class: "steps" }, el("tbody", {}, (r.steps || []).map((s) => el("tr", {}, el("td", {}, fmtTime(s.at)), el("td", {}, s.step), el("td", {}, s.detail))))));
}

// ---- shadow ----

let shadowThing = "";

async function loadShadowPage() {
  const out = await api("/things");
  const names = (out.things || []).map((t) => t.thingName);
  $("#shadow-thing").replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  if (shadowThing && names.includes(shadowThing)) $("#shadow-thing").value = shadowThing;
  if ($("#shadow-thing").value) await loadShadow();
}

async function loadShadow(ev) {
  if (ev) ev.preventDefault();
  const thing = $("#shadow-thing").value;
  const name = $("#shadow-name").value.trim();
  shadowThing = thing;
  try {
    const doc = await api("/things/" + encodeURIComponent(thing) + "/shadow" + (name ? "?name=" + encodeURIComponent(name) : ""));
    $("#shadow-doc").textContent = JSON.stringify(doc, null, 2);
    const delta = doc.state && doc.state.delta;
    $("#shadow-delta").textContent = delta ? JSON.stringify(delta, null, 2) : "no delta: reported matches desired";
  } catch (e) {
    $("#shadow-doc").textContent = e.message;
    $("#shadow-delta").textContent = "";
  }
}

// ---- decisions ----

async function loadDecisions() {
  const recs = await api("/_iotcore/connections");
  const rows = [];
  for (const r of recs) {
    for (const s of r.steps || []) {
      if (s.step === "iot:Connect" || s.step === "refused") {
        const allowed = s.step === "iot:Connect" && s.detail.startsWith("allowed");
        rows.push({ at: s.at, client: r.clientId, decision: s.step === "refused" ? "refused" : allowed ? "iot:Connect allowed" : "iot:Connect denied", why: s.detail, ok: allowed });
      }
    }
  }
  rows.sort((a, b) => (a.at < b.at ? 1 : -1));
  fill($("#decisions-table tbody"), rows.map((d) => el("tr", {}, el("td", {}, fmtTime(d.at)), el("td", {}, d.client),
    el("td", { class: d.ok ? "ok" : "bad" }, d.decision), el("td", {}, d.why))));
}

// ---- MQTT test client ----
//
// The page cannot sign a WebSocket URL itself (it holds no secret), so it asks the emulator for
// one: POST /_iotcore/console/mqtt-url answers a /mqtt URL presigned (SigV4, a minute) with the
// emulator's in-memory console credential. The route is same-origin only and, under
// --sigv4-strict, refused to unsigned callers; then the page says so and publishes with the HTTP
// Publish API (refused too under --sigv4-strict), and cannot subscribe.

let mqtt = null;        // the connected MiniMQTT, null when not connected
let mqttOpening = null; // the connection attempt in progress
const subscriptions = new Map(); // filter → {qos, li, packetId}
const pendingPubs = new Map();   // QoS 1 packet id → topic

function mqttStatus(text, cls, mode) {
  const p = $("#mqtt-status");
  p.textContent = text;
  p.className = cls;
  p.dataset.mode = mode;
  $("#mqtt-connect").hidden = mode === "websocket" || mode === "connecting";
}

function openMQTT() {
  if (mqtt) return Promise.resolve();
  if (!mqttOpening) mqttOpening = connectMQTT().finally(() => { mqttOpening = null; });
  return mqttOpening;
}

async function connectMQTT() {
  mqttStatus("connecting over MQTT/WebSocket…", "muted", "connecting");
  let grant;
  try {
    grant = await api("/_iotcore/console/mqtt-url", { method: "POST" });
  } catch (e) {
    fallback("the emulator did not give the page a signed /mqtt URL (" + e.message + ")");
    return;
  }
  const endpoint = grant.url.split("?")[0];
  const clientId = "console-" + Math.random().toString(16).slice(2, 10);
  const client = new MiniMQTT(grant.url, clientId, {
    onMessage: addMessage,
    onClose: (ev) => {
      if (mqtt !== client) return; // never connected: connect() reports why
      mqtt = null;
      fallback("the WebSocket connection closed (code " + ev.code + ")");
    },
    onSuback: subacked,
    onPuback: (id) => {
      const topic = pendingPubs.get(id);
      if (topic === undefined) return;
      pendingPubs.delete(id);
      $("#pub-status").textContent = "published to " + topic + " over MQTT (PUBACK " + id + ")";
    },
  });
  try {
    await client.connect();
  } catch (e) {
    fallback("the WebSocket connection to " + endpoint + " failed: " + e.message);
    return;
  }
  mqtt = client;
  mqttStatus("connected over MQTT/WebSocket to " + endpoint + " as client id " + clientId, "ok", "websocket");
  $("#mqtt-identity").textContent = "Identity: " + grant.identity + ".";
  for (const [filter, sub] of subscriptions) sub.packetId = mqtt.subscribe(filter, sub.qos);
}

// fallback says why the WebSocket is not used; publishing then goes through the HTTP Publish API.
function fallback(why) {
  mqttStatus("MQTT over WebSocket is unavailable: " + why + ". Publishing uses the HTTP Publish API; subscribing needs the WebSocket.", "bad", "http");
  $("#mqtt-identity").textContent = "";
  for (const sub of subscriptions.values()) subState(sub, "waiting for the WebSocket", "muted");
}

function subState(sub, text, cls) {
  const span = sub.li.querySelector(".state");
  span.textContent = text;
  span.className = "state " + cls;
  sub.li.dataset.state = cls;
}

function subacked(id, codes) {
  for (const sub of subscriptions.values()) {
    if (sub.packetId !== id) continue;
    const rc = codes[0];
    if (rc === 0x80) subState(sub, "refused (SUBACK 0x80)", "bad");
    else subState(sub, "subscribed, QoS " + rc, "ok");
  }
}

function addMessage(topic, payload, flags) {
  const f = flags || {};
  $("#messages").prepend(el("li", { "data-topic": topic },
    fmtTime(new Date().toISOString()), "  ", topic, "  ",
    "QoS " + (f.qos || 0) + (f.retain ? " retained" : ""), "  ", payload));
}

async function subscribe(ev) {
  ev.preventDefault();
  const filter = $("#sub-topic").value.trim();
  const qos = Number($("#sub-qos").value);
  if (!filter) return;
  let sub = subscriptions.get(filter);
  if (!sub) {
    const stop = el("button", { type: "button" }, "Unsubscribe");
    const li = el("li", { "data-filter": filter }, el("span", { class: "mono" }, filter), el("span", { class: "state muted" }, ""), stop);
    sub = { qos, li, packetId: 0 };
    stop.addEventListener("click", () => {
      if (mqtt) mqtt.unsubscribe(filter);
      subscriptions.delete(filter);
      li.remove();
    });
    subscriptions.set(filter, sub);
    $("#subscriptions").append(li);
  }
  sub.qos = qos;
  if (!mqtt) await openMQTT();
  if (!mqtt) { subState(sub, "not subscribed: MQTT over WebSocket is unavailable", "bad"); return; }
  subState(sub, "subscribing…", "muted");
  sub.packetId = mqtt.subscribe(filter, qos);
}

async function publish(ev) {
  ev.preventDefault();
  const topic = $("#pub-topic").value.trim();
  const payload = $("#pub-payload").value;
  const qos = Number($("#pub-qos").value);
  const retain = $("#pub-retain").checked;
  if (mqttOpening) await mqttOpening;
  if (mqtt) {
    const id = mqtt.publish(topic, payload, qos, retain);
    if (id) pendingPubs.set(id, topic);
    $("#pub-status").textContent = "published to " + topic + " over MQTT" + (id ? " (waiting for PUBACK " + id + ")" : "");
    $("#pub-status").className = "ok";
    $("#pub-status").dataset.via = "mqtt";
    return;
  }
  try {
    const q = "?qos=" + qos + (retain ? "&retain=true" : "");
    await api("/topics/" + encodeURIComponent(topic) + q, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: payload });
    $("#pub-status").textContent = "published to " + topic + " with the HTTP Publish API (MQTT over WebSocket is unavailable)";
    $("#pub-status").className = "ok";
    $("#pub-status").dataset.via = "http";
  } catch (e) {
    $("#pub-status").textContent = "publish failed: " + e.message;
    $("#pub-status").className = "bad";
    $("#pub-status").dataset.via = "http";
  }
}

window.addEventListener("hashchange", show);
window.addEventListener("DOMContentLoaded", () => {
  $("#testauth-form").addEventListener("submit", testAuthorization);
  $("#conn-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadConnections().catch((e) => report("connections", e)); });
  $("#shadow-form").addEventListener("submit", loadShadow);
  $("#sub-form").addEventListener("submit", subscribe);
  $("#pub-form").addEventListener("submit", publish);
  $("#mqtt-connect").addEventListener("click", () => { openMQTT(); });
  show();
});
