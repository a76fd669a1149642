// GET /v2/account/info: who the token belongs to (the check command's probe).
import { ok } from '../http';
import type { Route } from '../context';

export const accountRoutes: Record<string, Route> = {
  'GET /v2/account/info': (_ctx, _call, res, fault) =>
    ok(res, { info: { username: 'harvester-test', user_id: 1, mail: 'test@example.invalid', disk: { avail: 1e12, size: 1e12, used: 0 } } }, fault),
};
