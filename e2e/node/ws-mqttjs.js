// MQTT.js (npm "mqtt") over WebSocket, as a browser page or Node service writes it: URL is a
// presigned wss:// or ws:// URL (SigV4, computed by the test), or a plain one with USERNAME
// carrying custom-authorizer parameters. Connects (MQTT 3.1.1, subprotocol "mqtt"), subscribes to
// TOPIC, publishes, waits for the message.
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');
const { env, run } = require('./ws-common');

run(() => new Promise((resolve, reject) => {
  const topic = env('TOPIC');
  const opts = { clientId: env('CLIENT_ID'), protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 15000 };
  if (process.env.IOT_CA) opts.ca = fs.readFileSync(process.env.IOT_CA);
  if (process.env.USERNAME) opts.username = process.env.USERNAME;
  const client = mqtt.connect(env('URL'), opts);
  client.on('error', reject);
  client.on('close', () => reject(new Error('connection closed')));
  client.on('connect', () => {
    client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) return reject(err);
      client.publish(topic, 'hello from MQTT.js', { qos: 1 });
    });
  });
  client.on('message', (t, p) => { client.end(true); resolve(p.toString()); });
}));
