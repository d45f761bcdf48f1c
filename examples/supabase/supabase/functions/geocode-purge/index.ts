// Called hourly by pg_cron through pg_net (see README.md). Google lets latitude and longitude from the
// Geocoding API be cached for 30 days: this nulls older coordinates in ballast.geocode_cache, keeping
// the place ids (which may be kept indefinitely, and refresh an entry by place id), and forgets
// remembered empty answers after a day. Lookups never serve coordinates past 30 days even between runs;
// the purge is what deletes them.
import type { SqlClient } from '@ballast/core/stores/sql';
import { isGeocodeCacheError, purgeGeocodeCache, sqlGeocodeStore } from '@ballast/google-maps';
import { refuseUnless } from '../_shared/auth.ts';
import { database, storeUnavailable } from '../_shared/ballast.ts';

async function purge(request: Request): Promise<Response> {
  if (request.method !== 'POST')
    return Response.json({ error: 'method_not_allowed' }, { status: 405, headers: { allow: 'POST' } });
  // the schedule's secret key only: checked here (verify_jwt = false, see ../_shared/auth.ts)
  const refused = await refuseUnless(request, ['service_role']);
  if (refused) return refused;
  let db: SqlClient;
  try {
    db = await database();
  } catch {
    return storeUnavailable(60);
  }
  try {
    // { coordinates, empty }: rows whose coordinates were deleted, empty answers forgotten
    return Response.json(await purgeGeocodeCache({ store: sqlGeocodeStore(db) }));
  } catch (error) {
    if (isGeocodeCacheError(error)) return Response.json({ error: error.code }, { status: 503 });
    throw error;
  }
}

export default { fetch: purge };
