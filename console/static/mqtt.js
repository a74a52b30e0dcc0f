// A small MQTT 3.1.1 client over WebSocket (subprotocol "mqtt"), enough for the console's test
// client: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH (QoS 0 and 1), PINGREQ, and incoming PUBLISH.
// The URL is the presigned /mqtt URL the emulator gives the console (POST /_iotcore/console/mqtt-url).
"use strict";

class MiniMQTT {
  constructor(url, clientId, handlers) {
    this.url = url;
    this.clientId = clientId;
    this.h = handlers || {};
    this.packetId = 0;
    this.buf = new Uint8Array(0);
    this.enc = new TextEncoder();
    this.dec = new TextDecoder();
  }

  connect() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url, ["mqtt"]);
      } catch (e) {
        reject(e);
        return;
      }
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      let settled = false;
      ws.onopen = () => ws.send(this.connectPacket());
      ws.onerror = () => { if (!settled) { settled = true; reject(new Error("WebSocket connection to " + this.url + " failed")); } };
      ws.onclose = (ev) => {
        clearInterval(this.ping);
        if (!settled) { settled = true; reject(new Error("closed before CONNACK (code " + ev.code + ")")); }
        if (this.h.onClose) this.h.onClose(ev);
      };
      ws.onmessage = (ev) => {
        this.buf = concat(this.buf, new Uint8Array(ev.data));
        for (;;) {
          const pkt = takePacket(this.buf);
          if (!pkt) break;
          this.buf = this.buf.slice(pkt.size);
          const type = pkt.header >> 4;
          if (type === 2) { // CONNACK
            const rc = pkt.body[1];
            settled = true;
            if (rc === 0) {
              this.ping = setInterval(() => this.send(new Uint8Array([0xc0, 0])), 25000);
              resolve();
            } else {
              reject(new Error("CONNACK return code " + rc));
            }
          } else if (type === 3) { // PUBLISH
            const qos = (pkt.header >> 1) & 3;
            const tlen = (pkt.body[0] << 8) | pkt.body[1];
            const topic = this.dec.decode(pkt.body.slice(2, 2 + tlen));
            let off = 2 + tlen;
            if (qos > 0) {
              const id = (pkt.body[off] << 8) | pkt.body[off + 1];
              off += 2;
              this.send(new Uint8Array([0x40, 2, id >> 8, id & 255])); // PUBACK
            }
            if (this.h.onMessage) this.h.onMessage(topic, this.dec.decode(pkt.body.slice(off)), { qos, retain: (pkt.header & 1) === 1 });
          } else if (type === 9 && this.h.onSuback) { // SUBACK
            this.h.onSuback((pkt.body[0] << 8) | pkt.body[1], Array.from(pkt.body.slice(2)));
          } else if (type === 4 && this.h.onPuback) { // PUBACK
            this.h.onPuback((pkt.body[0] << 8) | pkt.body[1]);
          }
        }
      };
    });
  }

  send(bytes) { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes); }

  connectPacket() {
    const id = this.enc.encode(this.clientId);
    const body = concat(new Uint8Array([0, 4, 77, 81, 84, 84, 4, 2, 0, 30]), str(id));
    return packet(0x10, body);
  }

  subscribe(filter, qos) {
    const id = this.nextId();
    const body = concat(new Uint8Array([id >> 8, id & 255]), str(this.enc.encode(filter)), new Uint8Array([qos || 0]));
    this.send(packet(0x82, body));
    return id;
  }

  unsubscribe(filter) {
    const id = this.nextId();
    this.send(packet(0xa2, concat(new Uint8Array([id >> 8, id & 255]), str(this.enc.encode(filter)))));
    return id;
  }

  publish(topic, payload, qos, retain) {
    let head = 0x30 | ((qos || 0) << 1) | (retain ? 1 : 0);
    let body = str(this.enc.encode(topic));
    let id = 0;
    if (qos > 0) { id = this.nextId(); body = concat(body, new Uint8Array([id >> 8, id & 255])); }
    this.send(packet(head, concat(body, this.enc.encode(payload))));
    return id;
  }

  close() { this.send(new Uint8Array([0xe0, 0])); if (this.ws) this.ws.close(); }

  nextId() { this.packetId = (this.packetId % 65535) + 1; return this.packetId; }
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

function str(bytes) { return concat(new Uint8Array([bytes.length >> 8, bytes.length & 255]), bytes); }

function packet(header, body) {
  const len = [];
  let n = body.length;
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 128; len.push(b); } while (n > 0);
  return concat(new Uint8Array([header]), new Uint8Array(len), body);
}

// takePacket returns the first complete packet of buf, or null.
function takePacket(buf) {
  if (buf.length < 2) return null;
  let mult = 1, len = 0, i = 1, b;
  do {
    if (i >= buf.length) return null;
    b = buf[i++];
    len += (b & 127) * mult;
    mult *= 128;
  } while (b & 128 && i < 5);
  if (buf.length < i + len) return null;
  return { header: buf[0], body: buf.slice(i, i + len), size: i + len };
}

window.MiniMQTT = MiniMQTT;
