// Data-parallel runs (DESIGN §9): every rank talks to its own node's sidecar. A node's sidecar
// holds the run under rank 0's id (PUT /v1/runs/:id makes that copy), each rank announces its pid
// and node there (and hears that node's verdict back), and rank 0 forwards every rank's summary,
// gathered in the job's own torch.distributed collective, to its sidecar.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { badRequest } from '../errors.js';
import { checkConfigInBounds, toConfig, toTune } from '../run-input.js';
import { runView } from '../run-view.js';
import { errorResponses, RunIdParams } from '../schemas/common.js';
import { AnnounceAnswer, AnnounceBody, CopyRunBody, RankParams, RankSummaryBody } from '../schemas/ranks.js';
import { RunView } from '../schemas/runs.js';
import type { RunHub } from '../runs/hub.js';

/** Run ids as the store makes them (store/runs.ts newRunId), and room for other sidecars' ids. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const rankRoutes: FastifyPluginAsyncTypebox<{ runs: RunHub }> = async (app, { runs }) => {
  app.put('/v1/runs/:id', {
    schema: {
      summary: 'hold a run under the id another sidecar gave it (a node of a data-parallel job, or a sidecar that lost its store): 201 when made, 200 with the run as it is when it exists',
      params: RunIdParams, body: CopyRunBody, response: { 200: RunView, 201: RunView, ...errorResponses },
    },
  }, async (req, reply) => {
    const existing = runs.findRun(req.params.id);
    if (existing) return reply.code(200).send(runView(runs, existing));
    if (!RUN_ID.test(req.params.id)) throw badRequest(`id: ${JSON.stringify(req.params.id)} must be 1–64 letters, digits and . _ - (starting with a letter or digit)`);
    const tune = toTune(req.body.tune);
    const config = req.body.config ? toConfig(req.body.config) : null;
    if (config) checkConfigInBounds(config, tune);
    if (!config && req.body.config_version !== undefined) throw badRequest('config_version: only with config');
    const run = runs.registerRun({
      id: req.params.id, name: req.body.name, pid: req.body.pid ?? null, config, tune, version: req.body.config_version ?? 1,
    });
    return reply.code(201).send(runView(runs, run));
  });

  app.put('/v1/runs/:id/ranks/:rank', {
    schema: {
      summary: 'a rank says it runs here (pid, node), every few seconds; answers with this sidecar\'s verdict on its local ranks',
      params: RankParams, body: AnnounceBody, response: { 200: AnnounceAnswer, ...errorResponses },
    },
  }, async (req) => {
    const run = runs.getRun(req.params.id);
    const { rank } = req.params;
    if (rank >= req.body.world_size) throw badRequest(`rank: ${rank} must be below world_size ${req.body.world_size}`);
    runs.announceRank(run.id, { rank, worldSize: req.body.world_size, pid: req.body.pid ?? null, node: req.body.node ?? null });
    const status = runs.live(run).status;
    const why = status?.evidence?.why;
    return {
      run_id: run.id, rank, leader: !runs.isNodeCopy(run.id),
      verdict: status ? { kind: status.bottleneck, why: typeof why === 'string' ? why : null } : null,
    };
  });

  app.post('/v1/runs/:id/ranks', {
    schema: {
      summary: 'rank 0 forwards every rank\'s summary since its last forward (from the job\'s collective)',
      params: RunIdParams, body: RankSummaryBody,
      response: { 202: Type.Object({ accepted: Type.Integer() }), ...errorResponses },
    },
  }, async (req, reply) => {
    const run = runs.getRun(req.params.id);
    const { world_size: worldSize, ranks } = req.body;
    ranks.forEach((r, i) => {
      if (r.rank >= worldSize) throw badRequest(`ranks[${i}].rank: ${r.rank} must be below world_size ${worldSize}`);
      if (r.data_wait_s > r.duration_s) throw badRequest(`ranks[${i}].data_wait_s: ${r.data_wait_s} is greater than duration_s ${r.duration_s}`);
    });
    runs.addRankSummaries(run.id, worldSize, ranks.map((r) => ({
      rank: r.rank, node: r.node ?? null, steps: r.steps, durationS: r.duration_s, dataWaitS: r.data_wait_s, samples: r.samples,
      lastStep: r.last_step ?? null, nodeVerdict: r.verdict ?? null,
    })));
    return reply.code(202).send({ accepted: ranks.length });
  });
};
