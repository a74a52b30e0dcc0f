// End-to-end test of fleet provisioning by claim with AWS's own JavaScript device SDK
// (aws-iot-device-sdk-v2): the classic IotIdentityClient (CreateKeysAndCertificate, then
// RegisterThing) and the request-response IotIdentityClientv2 (CreateCertificateFromCsr, then
// RegisterThing, then a reused token refused), both in JSON over MQTT 3.1.1 with mutual TLS.
// Driven by e2e/fleet_provisioning_node_test.go, which passes in the environment:
//   PROV_HOST, PROV_PORT             the MQTT listener (8883)
//   PROV_CERT, PROV_KEY, PROV_CA     the claim certificate, its key and the emulator's root CA (files)
//   PROV_TEMPLATE                    the provisioning template's name
//   PROV_CSR                         a PEM certificate signing request (file)
// It prints one line "result {json}" per provisioned device (certificate, key, thing) for the Go
// test to check, and "ok - ..." per check. A failed check ends it with exit status 1.
'use strict';

const fs = require('fs');
const { mqtt, iot } = require('aws-crt');
const { iotidentity } = require('aws-iot-device-sdk-v2');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const template = env('PROV_TEMPLATE');

function check(cond, what, value) {
  if (!cond) throw new Error(`check failed: ${what}: ${JSON.stringify(value)}`);
  console.log(`ok - ${what}`);
}

// withTimeout bounds a promise, so a missing answer fails instead of hanging.
function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function connect(clientId) {
  const builder = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(env('PROV_CERT'), env('PROV_KEY'));
  builder.with_certificate_authority_from_path(undefined, env('PROV_CA'));
  builder.with_endpoint(env('PROV_HOST'));
  builder.with_port(parseInt(env('PROV_PORT'), 10));
  builder.with_client_id(clientId);
  builder.with_clean_session(true);
  const connection = new mqtt.MqttClient().new_connection(builder.build());
  await connection.connect();
  return connection;
}

// answer subscribes to an operation's accepted and rejected topics through the classic client:
// subscribed resolves once both are acknowledged, result with the accepted response (or rejects
// with the error response).
function answer(subscribeAccepted, subscribeRejected, request) {
  let subscribed;
  const result = new Promise((resolve, reject) => {
    subscribed = Promise.all([
      subscribeAccepted(request, mqtt.QoS.AtLeastOnce, (err, res) => (err ? reject(err) : resolve(res))),
      subscribeRejected(request, mqtt.QoS.AtLeastOnce, (err, res) => reject(err || new Error(JSON.stringify(res)))),
    ]);
  });
  return { subscribed, result };
}

async function classicFlow() {
  const connection = await connect('node-claim-classic');
  const client = new iotidentity.IotIdentityClient(connection);

  const keys = answer(
    client.subscribeToCreateKeysAndCertificateAccepted.bind(client),
    client.subscribeToCreateKeysAndCertificateRejected.bind(client), {});
  // Subscribe before publishing, as AWS's documentation asks.
  await withTimeout(keys.subscribed, 'SUBACK');
  await client.publishCreateKeysAndCertificate({}, mqtt.QoS.AtLeastOnce);
  const created = await withTimeout(keys.result, 'CreateKeysAndCertificate accepted');
  check(/^[0-9a-f]{64}$/.test(created.certificateId), 'CreateKeysAndCertificate: certificateId', created.certificateId);
  check(created.privateKey.startsWith('-----BEGIN RSA PRIVATE KEY-----'), 'CreateKeysAndCertificate: privateKey', created.privateKey.slice(0, 40));
  check(created.certificateOwnershipToken.length > 0 && created.certificateOwnershipToken.length <= 512, 'CreateKeysAndCertificate: token', created.certificateOwnershipToken.length);

  const reg = answer(
    client.subscribeToRegisterThingAccepted.bind(client),
    client.subscribeToRegisterThingRejected.bind(client), { templateName: template });
  await withTimeout(reg.subscribed, 'SUBACK');
  await client.publishRegisterThing({
    templateName: template,
    certificateOwnershipToken: created.certificateOwnershipToken,
    parameters: { SerialNumber: 'node1' },
  }, mqtt.QoS.AtLeastOnce);
  const registered = await withTimeout(reg.result, 'RegisterThing accepted');
  check(registered.thingName === 'ThingPrefix_node1', 'RegisterThing: thingName', registered.thingName);
  check(registered.deviceConfiguration.LocationUrl === 'https://example.aws', 'RegisterThing: deviceConfiguration', registered.deviceConfiguration);
  console.log('result ' + JSON.stringify({ certificatePem: created.certificatePem, privateKey: created.privateKey, thingName: registered.thingName }));
  await connection.disconnect();
}

async function requestResponseFlow() {
  const connection = await connect('node-claim-rr');
  const client = iotidentity.IotIdentityClientv2.newFromMqtt311(connection, {
    maxRequestResponseSubscriptions: 4,
    maxStreamingSubscriptions: 1,
    operationTimeoutInSeconds: 15,
  });
  const created = await client.createCertificateFromCsr({ certificateSigningRequest: fs.readFileSync(env('PROV_CSR'), 'utf8') });
  check(/^[0-9a-f]{64}$/.test(created.certificateId), 'CreateCertificateFromCsr: certificateId', created.certificateId);
  check(created.certificatePem.startsWith('-----BEGIN CERTIFICATE-----'), 'CreateCertificateFromCsr: certificatePem', created.certificatePem.slice(0, 30));

  const request = {
    templateName: template,
    certificateOwnershipToken: created.certificateOwnershipToken,
    parameters: { SerialNumber: 'node2', DeviceLocation: 'Paris' },
  };
  const registered = await client.registerThing(request);
  check(registered.thingName === 'ThingPrefix_node2', 'RegisterThing (v2): thingName', registered.thingName);
  check(registered.deviceConfiguration.LocationUrl === 'https://example.fr', 'RegisterThing (v2): deviceConfiguration', registered.deviceConfiguration);
  console.log('result ' + JSON.stringify({ certificatePem: created.certificatePem, thingName: registered.thingName }));

  // The token is spent: the same request is rejected as AWS rejects it.
  try {
    await client.registerThing(request);
    throw new Error('a reused ownership token was accepted');
  } catch (err) {
    const m = err.modeledError || {};
    check(m.statusCode === 400 && m.errorCode === 'InvalidCertificateOwnershipToken', 'RegisterThing (v2): reused token rejected', m);
  }
  client.close();
  await connection.disconnect();
}

(async () => {
  await classicFlow();
  await requestResponseFlow();
  console.log('done');
  process.exit(0);
})().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
