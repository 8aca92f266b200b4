#!/usr/bin/env node
// Runs the model test (test/unit/pool-model.spec.ts) with more cases than `npm test` does:
//   npm run model -- --runs 10000            10,000 random command sequences
//   npm run model -- --seed S --path P       replays the failure fast-check printed (seed and path)
//   npm run model -- --ignore cap            leaves out a check (comma-separated names: cap, slots, settle, …)
//   npm run model -- --stats                 prints what the runs did (outcomes, who answered the questions)
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const flags = { '--runs': 'MODEL_RUNS', '--seed': 'MODEL_SEED', '--path': 'MODEL_PATH', '--ignore': 'MODEL_IGNORE' };
const env = { ...process.env, MODEL_RUNS: process.env.MODEL_RUNS ?? '10000' };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--stats') env.MODEL_STATS = '1';
  else if (arg === '--verbose') env.MODEL_VERBOSE = '1';
  else if (flags[arg] && args[i + 1] !== undefined) env[flags[arg]] = args[++i];
  else {
    console.error(`run-model: unknown argument ${arg}`);
    process.exit(2);
  }
}
const root = path.resolve(__dirname, '..', '..');
const started = Date.now();
const run = spawnSync(process.execPath, [require.resolve('jest/bin/jest', { paths: [root] }), 'test/unit/pool-model.spec.ts'], { cwd: root, env, stdio: 'inherit' });
console.log(`model: ${env.MODEL_RUNS} runs in ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${run.status}`);
process.exit(run.status ?? 1);
