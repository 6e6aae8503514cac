// The fixed sidecar state lives with the metrics benchmark (bench/ is compiled,
// test/ is not) and is shared with the tests from here.
export * from '../../bench/metrics/fixture.js';
