// MQTT over WebSocket with SigV4, as a device developer writes it with the AWS IoT Device SDK v2:
// the websockets_with_default_aws_signing builders of MQTT 3.1.1 (argv[2] = "3") and MQTT 5 ("5").
// Connects, subscribes to TOPIC, publishes to it, waits for the message, disconnects.
'use strict';
const { mqtt, mqtt5, iot, auth } = require('aws-iot-device-sdk-v2');
const { once } = require('events');
const { env, run } = require('./ws-common');

const host = env('IOT_HOST'), port = Number(env('IOT_PORT')), ca = env('IOT_CA');
const region = env('IOT_REGION', 'us-east-1'), clientId = env('CLIENT_ID'), topic = env('TOPIC');
const credentials = auth.AwsCredentialsProvider.newStatic(env('AKID'), env('SECRET'), process.env.SESSION_TOKEN || undefined);
const payload = 'hello from aws-iot-device-sdk-v2 over websocket';

async function mqtt311() {
  const config = iot.AwsIotMqttConnectionConfigBuilder.new_with_websockets({ region, credentials_provider: credentials })
    .with_endpoint(host).with_port(port).with_certificate_authority_from_path(undefined, ca)
    .with_client_id(clientId).with_clean_session(true).build();
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
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(host, { region, credentialsProvider: credentials });
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

run(process.argv[2] === '5' ? mqtt500 : mqtt311);
