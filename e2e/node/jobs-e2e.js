// End-to-end test of the AWS IoT Jobs device API with AWS's own JavaScript device SDK
// (aws-iot-device-sdk-v2, IotJobsClientv2 over MQTT 3.1.1, or MQTT 5 with JOBS_PROTOCOL=5, with
// mutual TLS). Driven by
// e2e/jobs_node_test.go, which starts the emulator and passes, in the environment:
//   JOBS_HOST, JOBS_PORT        the MQTT listener (8883)
//   JOBS_CERT, JOBS_KEY, JOBS_CA the device's certificate, key and the emulator's root CA (files)
//   JOBS_THING                  the device's thing name (also its MQTT client ID)
//   JOBS_API                    the emulator's HTTP API URL (control plane, unsigned)
//   JOBS_GROUP                  a thing group the thing is NOT in yet
// Lines "advance N" on stdout ask the Go test to move the emulator's clock N seconds on; it
// answers "ok" on stdin. Every check that fails ends the script with exit status 1.
'use strict';

const { mqtt, mqtt5, iot } = require('aws-crt');
const { iotjobs } = require('aws-iot-device-sdk-v2');
const { once } = require('events');
const readline = require('readline');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const thing = env('JOBS_THING');
const api = env('JOBS_API');

function check(cond, what, value) {
  if (!cond) {
    throw new Error(`check failed: ${what}: ${JSON.stringify(value)}`);
  }
  console.log(`ok - ${what}`);
}

const lines = readline.createInterface({ input: process.stdin });
const pendingLines = [];
const lineWaiters = [];
lines.on('line', (l) => {
  const w = lineWaiters.shift();
  if (w) w(l); else pendingLines.push(l);
});
function nextLine() {
  if (pendingLines.length) return Promise.resolve(pendingLines.shift());
  return new Promise((resolve) => lineWaiters.push(resolve));
}
async function advance(seconds) {
  console.log(`advance ${seconds}`);
  const answer = await nextLine();
  if (answer !== 'ok') throw new Error(`clock not advanced: ${answer}`);
}

// control calls the emulator's control plane (service iot) the way the AWS CLI does, unsigned.
async function control(method, path, body) {
  const res = await fetch(api + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

const thingArn = (t) => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const groupArn = (g) => `arn:aws:iot:us-east-1:123456789012:thinggroup/${g}`;

// expectRejected runs a request that must be rejected with code.
async function expectRejected(promise, code, what) {
  try {
    await promise;
  } catch (err) {
    const m = err.modeledError || {};
    check(m.code === code, `${what} rejected with ${code}`, m);
    return m;
  }
  throw new Error(`${what}: accepted, expected ${code}`);
}

// nextEvent waits (bounded) for the next message of a streaming operation that passes filter.
function nextEvent(stream, filter, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15000);
    const onMessage = (ev) => {
      if (filter(ev.message)) {
        clearTimeout(timer);
        stream.removeListener('incomingPublish', onMessage);
        resolve(ev.message);
      }
    };
    stream.on('incomingPublish', onMessage);
  });
}

async function main() {
  const rrOptions = { maxRequestResponseSubscriptions: 6, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 15 };
  let client;
  let stopProtocol;
  if (process.env.JOBS_PROTOCOL === '5') {
    const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(env('JOBS_HOST'), env('JOBS_CERT'), env('JOBS_KEY'));
    builder.withCertificateAuthorityFromPath(undefined, env('JOBS_CA'));
    builder.withPort(parseInt(env('JOBS_PORT'), 10));
    builder.withConnectProperties({ clientId: thing, keepAliveIntervalSeconds: 1200 });
    const m5 = new mqtt5.Mqtt5Client(builder.build());
    const connected = once(m5, mqtt5.Mqtt5Client.CONNECTION_SUCCESS);
    m5.start();
    await connected;
    client = iotjobs.IotJobsClientv2.newFromMqtt5(m5, rrOptions);
    stopProtocol = async () => {
      const stopped = once(m5, mqtt5.Mqtt5Client.STOPPED);
      m5.stop();
      await stopped;
      m5.close();
    };
  } else {
    const builder = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(env('JOBS_CERT'), env('JOBS_KEY'));
    builder.with_certificate_authority_from_path(undefined, env('JOBS_CA'));
    builder.with_endpoint(env('JOBS_HOST'));
    builder.with_port(parseInt(env('JOBS_PORT'), 10));
    builder.with_client_id(thing);
    builder.with_clean_session(true);
    const connection = new mqtt.MqttClient().new_connection(builder.build());
    await connection.connect();
    client = iotjobs.IotJobsClientv2.newFromMqtt311(connection, rrOptions);
    stopProtocol = () => connection.disconnect();
  }
  const nextStream = client.createNextJobExecutionChangedStream({ thingName: thing });
  const listStream = client.createJobExecutionsChangedStream({ thingName: thing });
  const subscribed = Promise.all([
    once(nextStream, 'subscriptionStatus'), once(listStream, 'subscriptionStatus'),
  ]);
  nextStream.open();
  listStream.open();
  await subscribed;

  // 1. create, notify-next, start-next, update to SUCCEEDED, describe.
  let pending = await client.getPendingJobExecutions({ thingName: thing });
  check(pending.queuedJobs.length === 0 && pending.inProgressJobs.length === 0, 'nothing pending at first', pending);
  let notified = nextEvent(nextStream, (m) => m.execution && m.execution.jobId === 'node-ok', 'notify-next of node-ok');
  let listed = nextEvent(listStream, (m) => m.jobs && m.jobs.QUEUED, 'notify with a QUEUED job');
  await control('PUT', '/jobs/node-ok', { targets: [thingArn(thing)], document: '{"action":"install","url":"https://example.com/fw.bin"}' });
  const n1 = await notified;
  check(n1.execution.status === 'QUEUED' && n1.execution.jobDocument.action === 'install', 'notify-next carries the queued execution and its document object', n1.execution);
  const queuedMs = n1.execution.queuedAt instanceof Date ? n1.execution.queuedAt.getTime() : n1.execution.queuedAt * 1000;
  check(Math.abs(queuedMs - Date.now()) < 3600e3, 'queuedAt is epoch seconds near now', n1.execution.queuedAt);
  const l1 = await listed;
  check(l1.jobs.QUEUED[0].jobId === 'node-ok', 'notify lists the queued job', l1.jobs);

  const started = await client.startNextPendingJobExecution({ thingName: thing, statusDetails: { step: 'download' } });
  check(started.execution.jobId === 'node-ok' && started.execution.status === 'IN_PROGRESS' && started.execution.versionNumber === 2, 'start-next starts it', started.execution);
  let finalList = nextEvent(listStream, () => true, 'notify after SUCCEEDED');
  let finalNext = nextEvent(nextStream, () => true, 'notify-next after SUCCEEDED');
  const updated = await client.updateJobExecution({ thingName: thing, jobId: 'node-ok', status: 'SUCCEEDED', expectedVersion: 2, includeJobExecutionState: true });
  check(updated.executionState.status === 'SUCCEEDED' && updated.executionState.versionNumber === 3, 'update to SUCCEEDED is accepted', updated);
  const fl = await finalList;
  check(Object.keys(fl.jobs).length === 0, 'notify after SUCCEEDED has no jobs', fl);
  const fn = await finalNext;
  check(fn.execution === undefined && fn.timestamp !== undefined, 'notify-next after SUCCEEDED has no execution', fn);
  const described = await client.describeJobExecution({ thingName: thing, jobId: 'node-ok' });
  check(described.execution.status === 'SUCCEEDED' && described.execution.statusDetails.step === 'download', 'describe shows SUCCEEDED', described.execution);

  // 2. version mismatch, then REJECTED.
  await control('PUT', '/jobs/node-reject', { targets: [thingArn(thing)], document: '{"action":"reboot"}' });
  const mismatch = await expectRejected(client.updateJobExecution({ thingName: thing, jobId: 'node-reject', status: 'IN_PROGRESS', expectedVersion: 7 }), 'VersionMismatch', 'update with a stale version');
  check(mismatch.executionState && mismatch.executionState.versionNumber === 1, 'the rejection carries the execution state', mismatch);
  const rejected = await client.updateJobExecution({ thingName: thing, jobId: 'node-reject', status: 'REJECTED', statusDetails: { reason: 'busy' } });
  check(rejected.timestamp !== undefined, 'REJECTED is accepted', rejected);
  check((await client.describeJobExecution({ thingName: thing, jobId: 'node-reject' })).execution.status === 'REJECTED', 'describe shows REJECTED', null);

  // 3. TIMED_OUT through the step timer.
  await control('PUT', '/jobs/node-timeout', { targets: [thingArn(thing)], document: '{"action":"slow"}' });
  const s3 = await client.startNextPendingJobExecution({ thingName: thing, stepTimeoutInMinutes: 1 });
  check(s3.execution.jobId === 'node-timeout', 'start-next starts the slow job with a 1-minute step timer', s3.execution);
  await advance(61);
  const timedOut = await client.describeJobExecution({ thingName: thing, jobId: 'node-timeout' });
  check(timedOut.execution.status === 'TIMED_OUT', 'the step timer ends it TIMED_OUT', timedOut.execution);
  await expectRejected(client.updateJobExecution({ thingName: thing, jobId: 'node-timeout', status: 'SUCCEEDED' }), 'InvalidStateTransition', 'update after TIMED_OUT');

  // 4. CancelJob with force while IN_PROGRESS.
  await control('PUT', '/jobs/node-cancel', { targets: [thingArn(thing)], document: '{"action":"long"}' });
  const s4 = await client.startNextPendingJobExecution({ thingName: thing });
  check(s4.execution.jobId === 'node-cancel' && s4.execution.status === 'IN_PROGRESS', 'start-next starts the job to cancel', s4.execution);
  await control('PUT', '/jobs/node-cancel/cancel?force=true', { reasonCode: 'TEST', comment: 'canceled by the test' });
  const canceled = await client.describeJobExecution({ thingName: thing, jobId: 'node-cancel' });
  check(canceled.execution.status === 'CANCELED', 'force cancel ends the IN_PROGRESS execution', canceled.execution);
  await expectRejected(client.updateJobExecution({ thingName: thing, jobId: 'node-cancel', status: 'SUCCEEDED' }), 'InvalidStateTransition', 'update after the force cancel');

  // 5. A continuous job reaches the thing when it joins the target group.
  const group = env('JOBS_GROUP');
  await control('PUT', '/jobs/node-continuous', { targets: [groupArn(group)], targetSelection: 'CONTINUOUS', document: '{"action":"configure"}' });
  pending = await client.getPendingJobExecutions({ thingName: thing });
  check(pending.queuedJobs.length === 0, 'the continuous job does not reach the thing before it joins', pending);
  notified = nextEvent(nextStream, (m) => m.execution && m.execution.jobId === 'node-continuous', 'notify-next of the continuous job');
  await control('PUT', '/thing-groups/addThingToThingGroup', { thingGroupName: group, thingName: thing });
  const n5 = await notified;
  check(n5.execution.status === 'QUEUED', 'joining the group queues the continuous job', n5.execution);
  const s5 = await client.startNextPendingJobExecution({ thingName: thing });
  check(s5.execution.jobId === 'node-continuous', 'start-next picks the continuous job', s5.execution);
  await client.updateJobExecution({ thingName: thing, jobId: 'node-continuous', status: 'SUCCEEDED' });

  // 6. Bad requests, as the SDK lets them through.
  await expectRejected(client.describeJobExecution({ thingName: thing, jobId: 'no-such-job' }), 'ResourceNotFound', 'describe of an unknown job');

  nextStream.close();
  listStream.close();
  client.close();
  await stopProtocol();
  lines.close();
  console.log('all checks passed');
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
