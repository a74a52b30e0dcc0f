// Custom authentication as a device developer writes it with the AWS IoT Device SDK v2: the
// direct_with_custom_authorizer builders (MQTT on 443 with ALPN mqtt) of MQTT 3.1.1 and 5, and the
// MQTT 3.1.1 websocket builder with a custom authorizer. argv[2]: "direct3", "direct5" or "ws3".
// Connects, subscribes to TOPIC, publishes to it, waits for the message, disconnects.
'use strict';
const { mqtt, mqtt5, iot } = require('aws-iot-device-sdk-v2');
const { once } = require('events');
const { env, run } = require('./ws-common');

const host = env('IOT_HOST'), port = Number(env('IOT_PORT')), ca = env('IOT_CA');
const clientId = env('CLIENT_ID'), topic = env('TOPIC');
const authorizer = env('AUTH_NAME'), signature = env('AUTH_SIGNATURE'), tokenKey = env('TOKEN_KEY'), token = env('TOKEN');
const username = env('USERNAME', 'device');
const payload = 'hello from aws-iot-device-sdk-v2 with a custom authorizer';

async function mqtt311(websocket) {
  const builder = websocket
    ? iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets()
    : iot.AwsIotMqttConnectionConfigBuilder.new_default_builder();
  const config = builder.with_endpoint(host).with_certificate_authority_from_path(undefined, ca)
    .with_custom_authorizer(username, authorizer, signature, undefined, tokenKey, token)
    .with_port(port).with_client_id(clientId).with_clean_session(true).build();
  const conn = new mqtt.MqttClient().new_connection(config);
  await conn.connect();
  const got = new Promise((resolve) => conn.subscribe(topic, mqtt.QoS.AtLeastOnce, (t, p) => resolve(Buffer.from(p).toString())));
  await new Promise((r) => setTimeout(r, 200));
  await conn.publish(topic, payload, mqtt.QoS.AtLeastOnce);
  const text = await got;
  await conn.disconnect();
  return text;
}

async function mqtt500() {
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithCustomAuth(host, {
    username, authorizerName: authorizer, tokenKeyName: tokenKey, tokenValue: token, tokenSignature: signature,
  });
  builder.withPort(port).withCertificateAuthorityFromPath(undefined, ca)
    .withConnectProperties({ clientId, keepAliveIntervalSeconds: 60 });
  const client = new mqtt5.Mqtt5Client(builder.build());
  const failed = once(client, 'connectionFailure').then(([ev]) => { throw ev.error; });
  const connected = once(client, 'connectionSuccess');
  client.start();
  await Promise.race([connected, failed]);
  const got = once(client, 'messageReceived');
  await client.subscribe({ subscriptions: [{ topicFilter: topic, qos: mqtt5.QoS.AtLeastOnce }] });
  await client.publish({ topicName: topic, qos: mqtt5.QoS.AtLeastOnce, payload });
  const [ev] = await got;
  const stopped = once(client, 'stopped');
  client.stop();
  await stopped;
  client.close();
  return Buffer.from(ev.message.payload).toString();
}

const mode = process.argv[2];
run(mode === 'direct5' ? mqtt500 : () => mqtt311(mode === 'ws3'));
