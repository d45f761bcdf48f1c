/**
 * The fake's places: a few well-known addresses with their real coordinates,
 * and every other address hashed to stable coordinates and a stable place id
 * (the same on every run and in every process).
 */

/** One place the fake knows. */
export interface FakePlace {
  placeId: string;
  formattedAddress: string;
  lat: number;
  lng: number;
  locationType: 'ROOFTOP' | 'RANGE_INTERPOLATED' | 'GEOMETRIC_CENTER' | 'APPROXIMATE';
  types: string[];
  /** ISO 3166-1 alpha-2 country. */
  country: string;
  postalCode?: string;
  locality?: string;
  route?: string;
  streetNumber?: string;
  /** Other spellings that find it (normalized as queries are). */
  aliases?: string[];
  /** True when the place was hashed from an unknown address (partial match). */
  synthetic?: boolean;
}

/** The built-in gazetteer. Coordinates are the places' real ones (to 7 decimals); place ids are the fake's own. */
export const GAZETTEER: readonly FakePlace[] = [
  {
    placeId: 'ChIJj61dQgK6j4AR4GeTYWZsKWw',
    formattedAddress: '1600 Amphitheatre Pkwy, Mountain View, CA 94043, USA',
    lat: 37.4224764,
    lng: -122.0842499,
    locationType: 'ROOFTOP',
    types: ['street_address'],
    country: 'US',
    postalCode: '94043',
    locality: 'Mountain View',
    route: 'Amphitheatre Pkwy',
    streetNumber: '1600',
    aliases: ['1600 amphitheatre parkway, mountain view, ca', '1600 amphitheatre parkway mountain view ca 94043'],
  },
  {
    placeId: 'ChIJRxzRQcUEdkgRGVaKyzmkgvg',
    formattedAddress: '10 Downing St, London SW1A 2AA, UK',
    lat: 51.5033635,
    lng: -0.1276248,
    locationType: 'ROOFTOP',
    types: ['premise'],
    country: 'GB',
    postalCode: 'SW1A 2AA',
    locality: 'London',
    route: 'Downing St',
    streetNumber: '10',
    aliases: ['10 downing street, london', '10 downing street london sw1a 2aa'],
  },
  {
    placeId: 'ChIJLU7jZClu5kcR4PcOOO6p3I0',
    formattedAddress: 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
    lat: 48.8583701,
    lng: 2.2944813,
    locationType: 'ROOFTOP',
    types: ['establishment', 'point_of_interest', 'tourist_attraction'],
    country: 'FR',
    postalCode: '75007',
    locality: 'Paris',
    route: 'Avenue Anatole France',
    streetNumber: '5',
    aliases: ['eiffel tower', 'tour eiffel, paris', '5 avenue anatole france, 75007 paris'],
  },
  {
    placeId: 'ChIJiQnyVcZRqEcRY0xnhE77uyY',
    formattedAddress: 'Pariser Platz, 10117 Berlin, Germany',
    lat: 52.5162746,
    lng: 13.3777041,
    locationType: 'GEOMETRIC_CENTER',
    types: ['establishment', 'point_of_interest', 'tourist_attraction'],
    country: 'DE',
    postalCode: '10117',
    locality: 'Berlin',
    route: 'Pariser Platz',
    aliases: ['brandenburger tor', 'brandenburg gate, berlin'],
  },
  {
    placeId: 'ChIJ3S-JXmauEmsRUcIaWtf4MzE',
    formattedAddress: 'Bennelong Point, Sydney NSW 2000, Australia',
    lat: -33.8567844,
    lng: 151.2152967,
    locationType: 'ROOFTOP',
    types: ['establishment', 'point_of_interest'],
    country: 'AU',
    postalCode: '2000',
    locality: 'Sydney',
    route: 'Bennelong Point',
    aliases: ['sydney opera house'],
  },
  {
    placeId: 'ChIJaXQRs6lZwokRY6EFpJnhNNE',
    formattedAddress: '20 W 34th St., New York, NY 10001, USA',
    lat: 40.7484405,
    lng: -73.9856644,
    locationType: 'ROOFTOP',
    types: ['premise'],
    country: 'US',
    postalCode: '10001',
    locality: 'New York',
    route: 'West 34th Street',
    streetNumber: '20',
    aliases: ['empire state building', '350 fifth avenue, new york', '350 5th ave, new york, ny 10118'],
  },
  {
    placeId: 'ChIJ51cu8IcbXWARiRtXIothAS4',
    formattedAddress: '1-1 Chiyoda, Chiyoda City, Tokyo 100-8111, Japan',
    lat: 35.685175,
    lng: 139.7527995,
    locationType: 'GEOMETRIC_CENTER',
    types: ['establishment', 'point_of_interest'],
    country: 'JP',
    postalCode: '100-8111',
    locality: 'Tokyo',
    aliases: ['tokyo imperial palace', '1-1 chiyoda, tokyo'],
  },
  {
    placeId: 'ChIJN1t_tDeuEmsRUsoyG83frY4',
    formattedAddress: 'Praça Floriano, s/n - Centro, Rio de Janeiro - RJ, 20031-050, Brazil',
    lat: -22.9099837,
    lng: -43.1764765,
    locationType: 'ROOFTOP',
    types: ['establishment', 'point_of_interest'],
    country: 'BR',
    postalCode: '20031-050',
    locality: 'Rio de Janeiro',
    route: 'Praça Floriano',
    aliases: ['theatro municipal, rio de janeiro', 'praça floriano, rio de janeiro'],
  },
];

/** How the fake folds an address before looking it up: NFKC, case, punctuation and whitespace. */
export function foldAddress(address: string): string {
  return address
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[.,;#]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** FNV-1a over the string's UTF-16 units, as 32 bits. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const PREFIX = 'ChIJfake';

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string | undefined {
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The place of an address the gazetteer does not know: coordinates hashed
 * from the folded address (latitudes -55..70, longitudes -180..180, 7
 * decimals), and a place id that encodes the folded address, so any fake
 * resolves it again (after a restart, in another process).
 */
export function hashedPlace(folded: string, country?: string): FakePlace {
  const a = fnv1a(folded);
  const b = fnv1a(folded, 0x01234567);
  const lat = Math.round((-55 + (a / 0xffffffff) * 125) * 1e7) / 1e7;
  const lng = Math.round((-180 + (b / 0xffffffff) * 360) * 1e7) / 1e7;
  const title = folded.replace(/\b\p{L}/gu, (c) => c.toUpperCase());
  return {
    placeId: `${PREFIX}${toBase64Url(folded)}`,
    formattedAddress: title,
    lat,
    lng,
    locationType: 'APPROXIMATE',
    types: ['street_address'],
    country: (country ?? 'ZZ').toUpperCase(),
    synthetic: true,
  };
}

/** The place of a place id: a gazetteer id, or a hashed one; undefined when neither. */
export function placeOfId(placeId: string): FakePlace | undefined {
  const known = GAZETTEER.find((p) => p.placeId === placeId);
  if (known) return known;
  if (!placeId.startsWith(PREFIX)) return undefined;
  const folded = fromBase64Url(placeId.slice(PREFIX.length));
  return folded === undefined || folded === '' ? undefined : hashedPlace(folded);
}

/** The gazetteer entry an address names (its formatted address or an alias), if any. */
export function gazetteerLookup(folded: string): FakePlace | undefined {
  return GAZETTEER.find(
    (p) => foldAddress(p.formattedAddress) === folded || p.aliases?.some((a) => foldAddress(a) === folded),
  );
}

/** Great-circle distance in metres. */
export function haversineMeters(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Google's encoded-polyline format for a list of points. */
export function encodePolyline(points: ReadonlyArray<{ lat: number; lng: number }>): string {
  let out = '';
  let prevLat = 0;
  let prevLng = 0;
  const encode = (value: number) => {
    let v = value < 0 ? ~(value << 1) : value << 1;
    while (v >= 0x20) {
      out += String.fromCharCode((0x20 | (v & 0x1f)) + 63);
      v >>= 5;
    }
    out += String.fromCharCode(v + 63);
  };
  for (const p of points) {
    const lat = Math.round(p.lat * 1e5);
    const lng = Math.round(p.lng * 1e5);
    encode(lat - prevLat);
    encode(lng - prevLng);
    prevLat = lat;
    prevLng = lng;
  }
  return out;
}
