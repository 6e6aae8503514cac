// The production run path over a real SQLite store, for tests: the store, the live state of runs
// over it and the tuner's ports, composed as server/sidecar.ts composes them. The tuner ports'
// calls are also reachable on the returned object, so a test reads like the job's side of things.
import { createRunHub } from '../../server/runs/hub.js';
import { createTunerPorts } from '../../server/runs/tuner-ports.js';
import { openStore, type StoreOptions } from '../../store/store.js';

export function openRuns(opts: StoreOptions) {
  const store = openStore(opts);
  const hub = createRunHub(store);
  const ports = createTunerPorts(hub);
  return Object.assign(hub, {
    ports,
    db: store.db,
    readWindow: ports.readWindow,
    applyDecision: ports.applyDecision,
    // setOutcome is the hub's own (the port calls hub.setOutcome; assigning the port over it recursed).
  });
}

export type TestRuns = ReturnType<typeof openRuns>;
