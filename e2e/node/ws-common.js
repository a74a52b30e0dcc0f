// Shared by the ws-*.js and customauth-*.js scripts: settings from the environment the Go test
// sets, and a bounded run that prints OK or the error.
'use strict';

function env(name, def) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (def !== undefined) return def;
    throw new Error(`environment variable ${name} is required`);
  }
  return v;
}

// run runs main with a 30 s bound and exits 0 after printing its result, 1 on failure.
function run(main) {
  const timer = setTimeout(() => { console.error('FAIL: timed out after 30 s'); process.exit(1); }, 30000);
  main().then((result) => {
    clearTimeout(timer);
    console.log('OK ' + result);
    process.exit(0);
  }, (err) => {
    clearTimeout(timer);
    console.error('FAIL: ' + (err && err.stack ? err.stack : err));
    process.exit(1);
  });
}

module.exports = { env, run };
