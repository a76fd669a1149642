// Device sign-in (GET /v2/oauth2/oob/code?app_id=, then GET .../code/:code until
// the user linked it): these come before any token exists, so they need none.
import { ok, sendError } from '../http';
import type { Route } from '../context';

export const OOB_CODE_PREFIX = '/v2/oauth2/oob/code/';

export const oauthRoutes: Record<string, Route> = {
  'GET /v2/oauth2/oob/code': ({ oob }, { query }, res, fault) => {
    if (!/^\d+$/.test(query.app_id ?? '')) return sendError(res, 400, 'INVALID_APP_ID', 'app_id is required');
    const code = oob.issue();
    return ok(res, { code, qr_code_url: `https://fake.put.io/qr/${code}.png` }, fault);
  },
  'GET /v2/oauth2/oob/code/:code': ({ oob, token }, { path }, res, fault) => {
    const state = oob.stateOf(decodeURIComponent(path.slice(OOB_CODE_PREFIX.length)));
    if (!state || state === 'expired') return sendError(res, 404, 'code_not_found', 'Code not found');
    return ok(res, { oauth_token: state === 'linked' ? token : null }, fault);
  },
};
