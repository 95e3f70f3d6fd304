// Rocket.Chat's own request schemas as referees of roster and of the sandbox.
//
// The validators are the compiled ajv functions of @rocket.chat/rest-typings 8.8.1 (vendored
// in vendor/rest-typings, see its VENDORED.md), the ones the server runs before an action.
//
//   node --import ./register.mjs rc_schemas.mjs captured FILE.jsonl
//       Every request in FILE (one JSON object a line: method, route, query, content_type,
//       body, as the sandbox's request capture keeps them) whose route has a schema must pass
//       it: GET routes validate the query, POST routes the JSON body (ApiClass: `requestMethod
//       === 'GET' ? this.queryParams : this.bodyParams`).
//   node --import ./register.mjs rc_schemas.mjs corpus URL
//       A corpus generated from each schema (a valid body, each required field missing, each
//       property with a wrong type, null, an extra property; nested objects likewise) is sent
//       to the sandbox at URL as `admin` (password in $ROSTER_SANDBOX_ADMIN_PASSWORD). The
//       sandbox must accept exactly what the schema accepts, and answer the rest as the
//       server does: 400 {success:false, error:"<ajv messages> [invalid-params]",
//       errorType:"invalid-params"} (a Meteor.Error('invalid-params', messages.join('\n '))).
//
// Both print one line per disagreement (with the expected and the actual answer) and end with
// "rocket.chat schemas: N passed, M failed"; the exit code is 1 when M > 0.

import { readFileSync } from 'node:fs';

import { isChannelsKickProps } from './vendor/rest-typings/dist/v1/channels/ChannelsKickProps.js';
import { isTeamsAddMembersProps } from './vendor/rest-typings/dist/v1/teams/TeamsAddMembersProps.js';
import { isTeamsRemoveMemberProps } from './vendor/rest-typings/dist/v1/teams/TeamsRemoveMemberProps.js';
import { isImportAddUsersParamsPOST } from './vendor/rest-typings/dist/v1/import/ImportAddUsersParamsPOST.js';
import { isUserCreateParamsPOST } from './vendor/rest-typings/dist/v1/users/UserCreateParamsPOST.js';
import { isUserSetActiveStatusParamsPOST } from './vendor/rest-typings/dist/v1/users/UserSetActiveStatusParamsPOST.js';
import { isUsersGetStatusParamsGET } from './vendor/rest-typings/dist/v1/users/UsersGetStatusParamsGET.js';
import { isUsersInfoParamsGetProps } from './vendor/rest-typings/dist/v1/users/UsersInfoParamsGet.js';
import { isUsersListParamsGET } from './vendor/rest-typings/dist/v1/users/UsersListParamsGET.js';
import { isUserSetAvatarParamsPOST } from './vendor/rest-typings/dist/v1/users/UsersSetAvatarParamsPOST.js';
import { isUsersSetPreferencesParamsPOST } from './vendor/rest-typings/dist/v1/users/UsersSetPreferenceParamsPOST.js';
import { isUsersUpdateParamsPOST } from './vendor/rest-typings/dist/v1/users/UsersUpdateParamsPOST.js';

/** Route key (the sandbox's counter key) → the validator the server runs. */
export const SCHEMAS = {
    'POST /api/v1/users.create': isUserCreateParamsPOST,
    'POST /api/v1/users.update': isUsersUpdateParamsPOST,
    'POST /api/v1/users.setActiveStatus': isUserSetActiveStatusParamsPOST,
    'GET /api/v1/users.info': isUsersInfoParamsGetProps,
    'GET /api/v1/users.list': isUsersListParamsGET,
    'GET /api/v1/users.getStatus': isUsersGetStatusParamsGET,
    'POST /api/v1/users.setAvatar': isUserSetAvatarParamsPOST,
    'POST /api/v1/users.setPreferences': isUsersSetPreferencesParamsPOST,
    'POST /api/v1/import.addUsers': isImportAddUsersParamsPOST,
    'POST /api/v1/channels.kick': isChannelsKickProps,
    'POST /api/v1/teams.addMembers': isTeamsAddMembersProps,
    'POST /api/v1/teams.removeMember': isTeamsRemoveMemberProps,
};

/** Routes with no rest-typings schema: the server checks their parameters in its own code. */
export const NO_SCHEMA = {
    'POST /api/v1/login': 'ApiClass _initAuth: loginCompatibility, then the login handlers',
    'POST /api/v1/logout': 'ApiClass _initAuth (isUserLogoutParamsPOST belongs to users.logout)',
    'GET /api/v1/logout': 'ApiClass _initAuth',
    'GET /api/v1/me': 'no parameters',
    'POST /api/v1/users.delete': "an inline ajv schema in the server's users.ts (8.x), check() in 7.x",
    'POST /api/v1/import.new': 'importer code (import.ts): check() on the body',
    'POST /api/v1/import.run': 'no parameters',
    'GET /api/v1/import.status': 'no parameters',
    'GET /api/v1/settings.public': 'settings.ts: parseJsonQuery / _id split',
    'GET /': "roster's flavor probe (the web app's page; no API)",
    'GET /api/info': 'unversioned, no parameters',
    // Issue 13: routes whose rest-typings schemas are not vendored yet (or that have none).
    'POST /api/v1/channels.create': 'legacy route, checks in channels.ts',
    'POST /api/v1/groups.create': 'legacy route, checks in groups.ts',
    'GET /api/v1/channels.info': 'legacy route, findChannelByIdOrName',
    'GET /api/v1/groups.info': 'legacy route, findPrivateGroupByIdOrName',
    'GET /api/v1/rooms.info': 'isRoomsInfoProps, not vendored',
    'POST /api/v1/channels.invite': 'no validateParams wired (rocketchat-members-and-ops.md §1)',
    'POST /api/v1/groups.invite': 'withUserIdSchema, not vendored',
    'POST /api/v1/groups.kick': 'no schema: getUserFromParams',
    'GET /api/v1/channels.members': 'legacy route, getPaginationItems',
    'GET /api/v1/groups.members': 'legacy route, getPaginationItems',
    'POST /api/v1/teams.create': 'isTeamsCreateProps, not vendored',
    'GET /api/v1/teams.info': 'isTeamsInfoProps, not vendored',
    'GET /api/v1/teams.members': 'isTeamsMembersProps, not vendored',
    'GET /api/v1/teams.listAll': 'permissionsRequired view-all-teams; paging only',
    'POST /api/v1/users.resetAvatar': 'getUserFromParams (no rest-typings schema vendored)',
    'GET /api/v1/users.getAvatar': 'getUserFromParams',
};

let passed = 0;
const failures = [];

function fail(what, expected, actual) {
    failures.push(what);
    console.log(`DISAGREE ${what}\n  expected: ${expected}\n  actual:   ${actual}`);
}

/** The server's `invalid-params` message: every ajv error's message joined with "\n ". */
export function ajvMessage(validator) {
    return (validator.errors || []).map((e) => e.message).join('\n ');
}

/** `?a=1&b=2` → {a:'1', b:'2'}; a repeated key becomes an array, as the server's parser does. */
function parseQuery(q) {
    const out = {};
    for (const [k, v] of new URLSearchParams(q)) {
        if (k in out) {
            out[k] = Array.isArray(out[k]) ? [...out[k], v] : [out[k], v];
        } else {
            out[k] = v;
        }
    }
    return out;
}

function checkCaptured(file) {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    const perRoute = {};
    const unchecked = {};
    for (const line of lines) {
        const req = JSON.parse(line);
        const validator = SCHEMAS[req.route];
        if (!validator) {
            const key = req.route.includes('unknown route') ? `${req.method} ${req.path}` : req.route;
            unchecked[key] = (unchecked[key] || 0) + 1;
            continue;
        }
        let params;
        if (req.method === 'GET') {
            params = parseQuery(req.query);
        } else {
            const ct = (req.content_type || '').toLowerCase();
            if (!ct.includes('application/json')) {
                fail(`${req.route}: content type`, 'application/json', req.content_type);
                continue;
            }
            try {
                params = JSON.parse(req.body || '{}');
            } catch (e) {
                fail(`${req.route}: body`, 'JSON', `${e.message}: ${req.body.slice(0, 200)}`);
                continue;
            }
        }
        const shown = JSON.stringify(redact(params));
        if (validator(params)) {
            passed += 1;
            perRoute[req.route] = (perRoute[req.route] || 0) + 1;
        } else {
            fail(`roster's ${req.route} ${shown}`, 'passes the schema', `${ajvMessage(validator)} [invalid-params]`);
        }
    }
    for (const [route, n] of Object.entries(perRoute)) {
        console.log(`checked ${n} × ${route}`);
    }
    for (const [route, n] of Object.entries(unchecked)) {
        console.log(`no schema: ${n} × ${route} (${NO_SCHEMA[route] || 'not a route roster is expected to call'})`);
    }
    if (passed === 0) {
        fail('captured requests', 'at least one request with a schema', 'none');
    }
}

/** JSON with sorted keys: equal values, equal text. */
function canonical(v) {
    if (Array.isArray(v)) {
        return `[${v.map(canonical).join(',')}]`;
    }
    if (v && typeof v === 'object') {
        return `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
            .join(',')}}`;
    }
    return JSON.stringify(v);
}

/** Passwords out of what is printed. */
function redact(v) {
    if (Array.isArray(v)) {
        return v.map(redact);
    }
    if (v && typeof v === 'object') {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, /password/i.test(k) ? '***' : redact(x)]));
    }
    return v;
}

// ----- the corpus -------------------------------------------------------------------------

let uniq = 0;
const next = () => {
    uniq += 1;
    return uniq;
};

/** A valid value of a (sub)schema, for properties a case adds. */
function sample(schema, name) {
    const t = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    if (schema.enum) {
        return schema.enum[0];
    }
    switch (t) {
        case 'string':
            return name === 'email' ? `corpus.${next()}@example.org` : `v${next()}`;
        case 'boolean':
            return true;
        case 'number':
        case 'integer':
            return 1;
        case 'array':
            return [sample(schema.items || { type: 'string' }, name)];
        case 'object':
            return {};
        default:
            return 'x';
    }
}

/** Values of other types than `schema` declares; ajv coerces some (the schema decides). */
function wrongTypes(schema) {
    const t = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    switch (t) {
        case 'string':
            return [7, true, [], {}, ['a']];
        case 'boolean':
            return ['true', 'yes', '', 0, 1, 2, [], {}];
        case 'number':
        case 'integer':
            return ['5', 'abc', '', true, false, [], {}];
        case 'array':
            return ['x', '', 7, {}, [7], [[]], [null]];
        case 'object':
            return ['x', '', 7, [], true];
        default:
            return [];
    }
}

/** Per object: properties that older or newer schemas of the same route declare. */
const EXTRAS = {
    'users.create': { settings: {}, phones: [{ phoneNumber: '1' }] },
    'users.update.data': { joinDefaultChannels: true, settings: {}, language: 'en' },
};

/**
 * Cases for an object schema: [label, value] pairs. `base` is a valid object; `at` the path
 * to the object inside the whole body (`set` rebuilds the body around a variant).
 */
function objectCases(schema, base, label, set) {
    const cases = [[`${label} valid`, set(base)]];
    const props = schema.properties || {};
    for (const name of schema.required || []) {
        const v = { ...base };
        delete v[name];
        cases.push([`${label} without required ${name}`, set(v)]);
    }
    cases.push([`${label} with an extra property`, set({ ...base, zzExtra: 1 })]);
    // Properties other versions of the schema have (the sandbox once accepted them).
    for (const [name, value] of Object.entries(EXTRAS[label] || {})) {
        cases.push([`${label} with ${name} (not in 8.8.1's schema)`, set({ ...base, [name]: value })]);
    }
    for (const [name, sub] of Object.entries(props)) {
        const present = name in base ? base : { ...base, [name]: sample(sub, name) };
        if (!(name in base)) {
            cases.push([`${label} with ${name}`, set(present)]);
        }
        for (const w of wrongTypes(sub)) {
            cases.push([`${label}.${name} = ${JSON.stringify(w)}`, set({ ...base, [name]: w })]);
        }
        cases.push([`${label}.${name} = null`, set({ ...base, [name]: null })]);
        if (sub.minLength) {
            cases.push([`${label}.${name} = ""`, set({ ...base, [name]: '' })]);
        }
        if (sub.type === 'object' && sub.properties) {
            const inner = name in base ? base[name] : {};
            cases.push(...objectCases(sub, inner, `${label}.${name}`, (x) => set({ ...base, [name]: x })));
        }
        if (sub.type === 'array' && sub.items && sub.items.type === 'object' && sub.items.properties) {
            const inner = base[name][0];
            cases.push(...objectCases(sub.items, inner, `${label}.${name}[0]`, (x) => set({ ...base, [name]: [x] })));
            cases.push([`${label}.${name} = []`, set({ ...base, [name]: [] })]);
        }
    }
    return cases;
}

/** Query-string cases (every value a string): the schema's branches, extras, empties. */
function queryCases(schema, bases, label) {
    const cases = [[`${label} no parameters`, {}]];
    for (const base of bases) {
        const tag = `${label} ${Object.keys(base).join('+') || 'base'}`;
        cases.push([`${tag} valid`, base]);
        cases.push([`${tag} with an extra parameter`, { ...base, zzExtra: '1' }]);
        const branches = schema.anyOf || [schema];
        const props = Object.assign({}, ...branches.map((b) => b.properties || {}));
        for (const [name, sub] of Object.entries(props)) {
            if (name in base) {
                cases.push([`${tag} ${name}=""`, { ...base, [name]: '' }]);
                continue;
            }
            const t = sub.type;
            const values = t === 'number' ? ['10', 'abc', '', '-1', '1.5'] : ['x', ''];
            for (const v of values) {
                cases.push([`${tag} ${name}=${JSON.stringify(v)}`, { ...base, [name]: v }]);
            }
        }
    }
    return cases;
}

async function api(url, auth, method, path, { body, query } = {}) {
    const qs = query ? `?${new URLSearchParams(query)}` : '';
    const res = await fetch(`${url}${path}${qs}`, {
        method,
        headers: {
            'Content-Type': 'application/json',
            'User-Agent': 'roster-referees/1',
            ...(auth ? { 'X-User-Id': auth.userId, 'X-Auth-Token': auth.authToken } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = text;
    }
    return { status: res.status, body: json };
}

async function login(url) {
    const r = await api(url, null, 'POST', '/api/v1/login', {
        body: { user: 'admin', password: process.env.ROSTER_SANDBOX_ADMIN_PASSWORD },
    });
    if (r.status !== 200) {
        throw new Error(`login as admin: ${r.status} ${JSON.stringify(r.body)}`);
    }
    return r.body.data;
}

/** Sends one case and compares the sandbox's answer with the schema's verdict. */
async function judge(url, auth, route, label, params) {
    const validator = SCHEMAS[route];
    const [method, path] = route.split(' ');
    const copy = structuredClone(params);
    const ok = validator(copy);
    const message = ok ? null : ajvMessage(validator);
    const r =
        method === 'GET'
            ? await api(url, auth, method, path, { query: params })
            : await api(url, auth, method, path, { body: params });
    const shown = `${route} ${label}: ${JSON.stringify(params)}`;
    if (ok) {
        const refused = r.status >= 500 || (r.body && (r.body.errorType === 'invalid-params' || r.body.errorType === 'error-invalid-params'));
        if (refused || r.status === 401 || r.status === 404) {
            fail(shown, 'the schema accepts it: no invalid-params answer', `${r.status} ${JSON.stringify(r.body)}`);
            return;
        }
    } else {
        const expected = { success: false, error: `${message} [invalid-params]`, errorType: 'invalid-params' };
        if (r.status !== 400 || canonical(r.body) !== canonical(expected)) {
            fail(shown, `400 ${JSON.stringify(expected)}`, `${r.status} ${JSON.stringify(r.body)}`);
            return;
        }
    }
    passed += 1;
}

async function corpus(url) {
    const auth = await login(url);
    // Targets for the routes that act on an existing user.
    const mk = async () => {
        const n = next();
        const r = await api(url, auth, 'POST', '/api/v1/users.create', {
            body: { username: `target.${n}`, email: `target.${n}@example.org`, name: `Target ${n}`, password: 'Target-pw-1234' },
        });
        if (r.status !== 200) {
            throw new Error(`creating a target user: ${r.status} ${JSON.stringify(r.body)}`);
        }
        return r.body.user._id;
    };
    const target = await mk();
    const counts = {};
    const run = async (route, cases) => {
        counts[route] = cases.length;
        for (const [label, params] of cases) {
            await judge(url, auth, route, label, params);
        }
    };

    const createBase = () => {
        const n = next();
        return { username: `corpus.${n}`, email: `corpus.${n}@example.org`, name: `Corpus ${n}`, password: 'Corpus-pw-1234' };
    };
    // A fresh identity per case, so that valid cases do not collide with each other.
    const createCases = objectCases(isUserCreateParamsPOST.schema, createBase(), 'users.create', (x) => {
        const fresh = createBase();
        const out = { ...x };
        for (const k of ['username', 'email']) {
            if (out[k] !== undefined && typeof out[k] === 'string' && out[k].startsWith('corpus.')) {
                out[k] = fresh[k];
            }
        }
        return out;
    });
    await run('POST /api/v1/users.create', createCases);

    await run(
        'POST /api/v1/users.update',
        objectCases(isUsersUpdateParamsPOST.schema, { userId: target, data: { name: 'Updated Name' } }, 'users.update', (x) => x),
    );
    await run(
        'POST /api/v1/users.setActiveStatus',
        objectCases(isUserSetActiveStatusParamsPOST.schema, { userId: target, activeStatus: true }, 'users.setActiveStatus', (x) => x),
    );
    await run(
        'GET /api/v1/users.info',
        queryCases(isUsersInfoParamsGetProps.schema, [{ userId: target }, { username: 'admin' }, { email: 'admin@example.com' }, { importId: 'x' }, { userId: target, username: 'admin' }], 'users.info'),
    );
    await run('GET /api/v1/users.list', queryCases(isUsersListParamsGET.schema, [{}], 'users.list'));
    // users.setAvatar's JSON form (issue 13): the sandbox fetches no remote URL, so a valid
    // avatarUrl ends in error-avatar-invalid-url, which is not a validation answer.
    await run(
        'POST /api/v1/users.setAvatar',
        objectCases(isUserSetAvatarParamsPOST.schema, { userId: target, avatarUrl: 'https://example.invalid/a.png' }, 'users.setAvatar', (x) => x),
    );
    // users.setPreferences (roster do set-preferences): `data` is a nested object with no
    // additional properties; its arrays of objects need an item to vary.
    await run(
        'POST /api/v1/users.setPreferences',
        objectCases(
            isUsersSetPreferencesParamsPOST.schema,
            {
                userId: target,
                data: {
                    language: 'de',
                    dontAskAgainList: [{ action: 'a', label: 'b' }],
                    featuresPreview: [{ name: 'quickReactions', value: true }],
                },
            },
            'users.setPreferences',
            (x) => x,
        ),
    );
    await run(
        'POST /api/v1/import.addUsers',
        objectCases(
            isImportAddUsersParamsPOST.schema,
            { users: [{ emails: ['imp@example.org'], importIds: ['imp-1'], username: 'imp', name: 'Imp' }] },
            'import.addUsers',
            (x) => x,
        ),
    );
    // The membership routes (issue 13): oneOf schemas, one corpus per branch, judged by the
    // whole validator. The room and team do not exist: a valid body ends in a lookup error.
    const branches = (validator, bases, label) =>
        validator.schema.oneOf.flatMap((b, i) => objectCases(b, bases[i], `${label}[${i}]`, (x) => x));
    await run(
        'POST /api/v1/channels.kick',
        branches(isChannelsKickProps, [{ roomId: 'no-such-room', userId: target }, { roomName: 'no-such-room', userId: target }], 'channels.kick'),
    );
    await run('POST /api/v1/teams.addMembers', [
        ...branches(
            isTeamsAddMembersProps,
            [
                { teamId: 'no-such-team', members: [{ userId: target, roles: ['member'] }] },
                { teamName: 'no-such-team', members: [{ userId: target }] },
            ],
            'teams.addMembers',
        ),
        ['teams.addMembers duplicate members', { teamName: 'no-such-team', members: [{ userId: target }, { userId: 'b' }, { userId: target }] }],
    ]);
    await run('POST /api/v1/teams.removeMember', [
        ...branches(
            isTeamsRemoveMemberProps,
            [
                { teamId: 'no-such-team', userId: target, rooms: ['r1'] },
                { teamName: 'no-such-team', userId: target },
            ],
            'teams.removeMember',
        ),
        ['teams.removeMember rooms = []', { teamName: 'no-such-team', userId: target, rooms: [] }],
        ['teams.removeMember duplicate rooms', { teamName: 'no-such-team', userId: target, rooms: ['a', 'b', 'a'] }],
    ]);
    for (const [route, n] of Object.entries(counts)) {
        console.log(`corpus: ${n} cases × ${route}`);
    }
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'captured') {
    checkCaptured(arg);
} else if (mode === 'corpus') {
    await corpus(arg.replace(/\/+$/, ''));
} else {
    console.error('usage: rc_schemas.mjs captured FILE | corpus URL');
    process.exit(2);
}
console.log(`rocket.chat schemas (${mode}): ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
