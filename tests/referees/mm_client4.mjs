// Mattermost's official JavaScript client (Client4 of @mattermost/client 11.9.0, the one the
// web app uses) as a referee of the Mattermost sandbox.
//
//   node mm_client4.mjs URL SEEDED
//
// Logs in as `admin` ($ROSTER_SANDBOX_ADMIN_PASSWORD) and drives every user endpoint the
// sandbox covers through Client4's own methods: login, createUser, getUser,
// getUserByUsername, getUserByEmail, getProfilesByUsernames, getProfilesByIds, getProfiles
// (paging through SEEDED + the built-in accounts), patchUser, updateUserRoles,
// updateUserActive, getTotalUsersStats, ping, logout; and for teams, channels and profile
// images (issue 13): createTeam, getTeamByName, addUsersToTeamGracefully, getChannelByName,
// createChannel, addToChannels, addToChannel, removeFromChannel, removeFromTeam,
// getTeamMembersForUser, uploadProfileImage, setDefaultProfileImage. Each answer must have the shape
// @mattermost/types declares (UserProfile, StatusOK, UsersStats), and each error must reach
// Client4 as a ClientError with the server's `id` (server_error_id), `message` and
// `status_code`. Prints one line per disagreement and ends with
// "mattermost client4: N passed, M failed" (exit 1 when M > 0).

import pkg from '@mattermost/client';

const { Client4, ClientError } = pkg;

let passed = 0;
const failures = [];

function check(cond, what, actual) {
    if (cond) {
        passed += 1;
    } else {
        failures.push(what);
        console.log(`DISAGREE ${what}${actual === undefined ? '' : `\n  actual: ${JSON.stringify(actual)}`}`);
    }
}

// UserProfile as @mattermost/types declares it: field → its JS type. The Go model omits
// empty values of the `omitempty` fields, so those are checked only when present; the rest
// (ALWAYS) must be there.
const USER_FIELDS = {
    id: 'string',
    create_at: 'number',
    update_at: 'number',
    delete_at: 'number',
    username: 'string',
    password: 'string',
    auth_data: 'string',
    auth_service: 'string',
    email: 'string',
    nickname: 'string',
    first_name: 'string',
    last_name: 'string',
    position: 'string',
    roles: 'string',
    props: 'object',
    notify_props: 'object',
    last_password_update: 'number',
    last_picture_update: 'number',
    locale: 'string',
    timezone: 'object',
    mfa_active: 'boolean',
    last_activity_at: 'number',
    is_bot: 'boolean',
    bot_description: 'string',
    terms_of_service_id: 'string',
    terms_of_service_create_at: 'number',
    remote_id: 'string',
    status: 'string',
    failed_attempts: 'number',
};
const ALWAYS = ['id', 'delete_at', 'username', 'auth_service', 'email', 'nickname', 'first_name', 'last_name', 'position', 'roles', 'locale'];

function checkUser(u, what) {
    check(u && typeof u === 'object' && !Array.isArray(u), `${what}: a UserProfile object`, u);
    if (!u || typeof u !== 'object') {
        return;
    }
    for (const k of ALWAYS) {
        check(k in u, `${what}: UserProfile.${k} present`, Object.keys(u));
    }
    for (const [k, t] of Object.entries(USER_FIELDS)) {
        if (k in u && u[k] !== null) {
            check(typeof u[k] === t, `${what}: UserProfile.${k} is a ${t}`, u[k]);
        }
    }
    check(!u.password, `${what}: no password in a UserProfile (sanitized)`, u.password);
    check(/^[a-z0-9]{26}$/.test(u.id), `${what}: id is a 26-character Mattermost id`, u.id);
}

/** Runs `call`, which must fail with a ClientError of `status` and server error `id`. */
async function expectError(call, status, id, what) {
    try {
        const r = await call();
        check(false, `${what}: expected ${status} ${id}, succeeded`, r);
    } catch (e) {
        check(e instanceof ClientError, `${what}: a ClientError`, String(e));
        check(e.status_code === status, `${what}: status_code ${status}`, e.status_code);
        check(e.server_error_id === id, `${what}: id ${id}`, e.server_error_id);
        check(typeof e.message === 'string' && e.message.length > 0, `${what}: a message`, e.message);
    }
}

const [url, seededArg] = process.argv.slice(2);
const seeded = Number(seededArg || 0);
const password = process.env.ROSTER_SANDBOX_ADMIN_PASSWORD;

const c = new Client4();
c.setUrl(url.replace(/\/+$/, ''));

// ----- login ------------------------------------------------------------------------------
const fresh = () => {
    const x = new Client4();
    x.setUrl(c.getUrl());
    return x;
};
await expectError(() => fresh().login('admin', 'wrong-password'), 401, 'api.user.login.invalid_credentials_email_username', 'login with a wrong password');
{
    await expectError(() => fresh().getUser('a'.repeat(26)), 401, 'api.context.session_expired.app_error', 'a call without a session');
}
const me = await c.login('admin', password);
checkUser(me, 'login');
check(me.username === 'admin', 'login: the admin', me.username);
check(me.roles.split(' ').includes('system_admin'), 'login: admin is a system_admin', me.roles);
check(typeof c.getToken() === 'string' && c.getToken().length > 0, 'login: Client4 kept the Token header', c.getToken());

// ----- createUser -------------------------------------------------------------------------
const created = await c.createUser(
    { username: 'client4.user', email: 'client4.user@example.org', password: 'Client4-pw-1', first_name: 'Cli', last_name: 'Ent', nickname: 'c4' },
    '',
    '',
);
checkUser(created, 'createUser');
check(created.username === 'client4.user' && created.first_name === 'Cli' && created.nickname === 'c4', 'createUser: the fields sent', created);
check(created.roles === 'system_user', 'createUser: roles system_user', created.roles);
check(created.delete_at === 0, 'createUser: active (delete_at 0)', created.delete_at);
await expectError(
    () => c.createUser({ username: 'client4.user', email: 'other@example.org', password: 'Client4-pw-1' }, '', ''),
    400,
    'app.user.save.username_exists.app_error',
    'createUser: a taken username',
);
await expectError(
    () => c.createUser({ username: 'client4.other', email: 'client4.user@example.org', password: 'Client4-pw-1' }, '', ''),
    400,
    'app.user.save.email_exists.app_error',
    'createUser: a taken email',
);
await expectError(
    () => c.createUser({ username: 'client4.bad', email: 'not-an-email', password: 'Client4-pw-1' }, '', ''),
    400,
    'model.user.is_valid.email.app_error',
    'createUser: an invalid email',
);
await expectError(
    () => c.createUser({ username: 'client4.short', email: 'short@example.org', password: 'short' }, '', ''),
    400,
    // Newer servers give the length errors their own ids (mattermost-api.md, password policy).
    'model.user.is_valid.pwd_min_length.app_error',
    'createUser: a password below the policy',
);

// ----- lookups ----------------------------------------------------------------------------
checkUser(await c.getUser(created.id), 'getUser');
checkUser(await c.getUserByUsername('client4.user'), 'getUserByUsername');
checkUser(await c.getUserByEmail('client4.user@example.org'), 'getUserByEmail');
await expectError(() => c.getUser('a'.repeat(26)), 404, 'app.user.missing_account.const', 'getUser: an unknown id');
await expectError(() => c.getUserByUsername('nobody.here'), 404, 'app.user.get_by_username.app_error', 'getUserByUsername: unknown');
await expectError(() => c.getUserByEmail('nobody@example.org'), 404, 'app.user.missing_account.const', 'getUserByEmail: unknown');
{
    const list = await c.getProfilesByUsernames(['client4.user', 'admin', 'nobody.here']);
    check(Array.isArray(list) && list.length === 2, 'getProfilesByUsernames: the two that exist', list);
    list.forEach((u, i) => checkUser(u, `getProfilesByUsernames[${i}]`));
    const byIds = await c.getProfilesByIds([created.id, me.id]);
    check(Array.isArray(byIds) && byIds.length === 2, 'getProfilesByIds: both', byIds);
}

// ----- getProfiles paging -----------------------------------------------------------------
{
    const total = seeded + 3; // admin, importer, client4.user
    const seen = new Set();
    const perPage = 60;
    let page = 0;
    for (;;) {
        const chunk = await c.getProfiles(page, perPage);
        check(Array.isArray(chunk), `getProfiles(${page}, ${perPage}): an array`, chunk);
        if (!Array.isArray(chunk) || chunk.length === 0) {
            break;
        }
        chunk.forEach((u) => seen.add(u.id));
        if (page === 0) {
            checkUser(chunk[0], 'getProfiles[0]');
        }
        if (chunk.length < perPage) {
            break;
        }
        page += 1;
    }
    check(seen.size === total, `getProfiles: every user once over the pages (${total})`, seen.size);
    const stats = await c.getTotalUsersStats();
    check(typeof stats.total_users_count === 'number', 'getTotalUsersStats: UsersStats', stats);
}

// ----- patchUser / updateUserRoles / updateUserActive --------------------------------------
{
    const patched = await c.patchUser({ id: created.id, nickname: 'patched', position: 'Tester' });
    checkUser(patched, 'patchUser');
    check(patched.nickname === 'patched' && patched.position === 'Tester' && patched.first_name === 'Cli', 'patchUser: patched fields, others kept', patched);
    // patchUser answers an unknown user with 400 invalid user_id, not 404 (mattermost-api.md,
    // PUT /users/{id}/patch).
    await expectError(() => c.patchUser({ id: 'a'.repeat(26), nickname: 'x' }), 400, 'api.context.invalid_body_param.app_error', 'patchUser: an unknown id');
    await expectError(
        () => c.patchUser({ id: created.id, email: 'admin@example.com' }),
        400,
        'app.user.save.email_exists.app_error',
        'patchUser: a taken email',
    );

    const roles = await c.updateUserRoles(created.id, 'system_user system_user_manager');
    check(roles && roles.status === 'OK', 'updateUserRoles: StatusOK', roles);
    check((await c.getUser(created.id)).roles === 'system_user system_user_manager', 'updateUserRoles: stored', null);
    await expectError(() => c.updateUserRoles(created.id, 'system_user no_such_role'), 400, 'app.role.check_roles_exist.role_not_found', 'updateUserRoles: an unknown role');
    await c.updateUserRoles(created.id, 'system_user');

    const off = await c.updateUserActive(created.id, false);
    check(off && off.status === 'OK', 'updateUserActive(false): StatusOK', off);
    const after = await c.getUser(created.id);
    check(after.delete_at > 0, 'updateUserActive(false): delete_at set', after.delete_at);
    const on = await c.updateUserActive(created.id, true);
    check(on && on.status === 'OK', 'updateUserActive(true): StatusOK', on);
    check((await c.getUser(created.id)).delete_at === 0, 'updateUserActive(true): delete_at 0', null);
    await expectError(() => c.updateUserActive('a'.repeat(26), false), 404, 'app.user.missing_account.const', 'updateUserActive: an unknown id');
}

// ----- teams, channels and profile images (issue 13) ----------------------------------------
{
    const team = await c.createTeam({ name: 'client4-team', display_name: 'Client4 Team', type: 'O' });
    check(team && /^[a-z0-9]{26}$/.test(team.id) && team.name === 'client4-team' && team.type === 'O', 'createTeam: a Team', team);
    const byName = await c.getTeamByName('client4-team');
    check(byName && byName.id === team.id, 'getTeamByName: the team', byName);
    await expectError(() => c.getTeamByName('no-such-team'), 404, 'app.team.get_by_name.missing.app_error', 'getTeamByName: an unknown name');
    await expectError(() => c.getTeamByName('Client4-Team'), 400, 'api.context.invalid_url_param.app_error', 'getTeamByName: an uppercase name');

    const graceful = await c.addUsersToTeamGracefully(team.id, [created.id, 'a'.repeat(26)]);
    check(Array.isArray(graceful) && graceful.length === 2, 'addUsersToTeamGracefully: one entry per user, in order', graceful);
    if (Array.isArray(graceful) && graceful.length === 2) {
        check(graceful[0].user_id === created.id && graceful[0].member && graceful[0].member.team_id === team.id && graceful[0].error === null, 'addUsersToTeamGracefully: the added member', graceful[0]);
        check(graceful[1].member === null && graceful[1].error && graceful[1].error.id === 'app.user.missing_account.const', 'addUsersToTeamGracefully: the unknown user\'s error', graceful[1]);
    }

    const town = await c.getChannelByName(team.id, 'town-square');
    check(town && town.name === 'town-square' && town.team_id === team.id && town.type === 'O', 'getChannelByName: town-square exists with the team', town);
    await expectError(() => c.getChannelByName(team.id, 'no-such-channel'), 404, 'app.channel.get_by_name.missing.app_error', 'getChannelByName: an unknown name');
    const dev = await c.createChannel({ team_id: team.id, name: 'client4-dev', display_name: 'Dev', type: 'O' });
    check(dev && dev.name === 'client4-dev' && /^[a-z0-9]{26}$/.test(dev.id), 'createChannel: the channel', dev);
    const added = await c.addToChannels([created.id, 'a'.repeat(26)], dev.id);
    check(Array.isArray(added) && added.length === 1 && added[0].user_id === created.id, 'addToChannels: an array without the failed user', added);
    const one = await c.addToChannel(created.id, dev.id);
    check(one && !Array.isArray(one) && one.user_id === created.id && one.channel_id === dev.id, 'addToChannel: one ChannelMember (already a member)', one);
    const removed = await c.removeFromChannel(created.id, dev.id);
    check(removed && removed.status === 'OK', 'removeFromChannel: StatusOK', removed);
    await expectError(() => c.removeFromChannel(created.id, dev.id), 404, 'app.channel.get_member.missing.app_error', 'removeFromChannel: no longer a member');
    await expectError(() => c.removeFromChannel(created.id, town.id), 400, 'api.channel.remove.default.app_error', 'removeFromChannel: town-square');
    const left = await c.removeFromTeam(team.id, created.id);
    check(left && left.status === 'OK', 'removeFromTeam: StatusOK', left);
    const memberships = await c.getTeamMembersForUser(created.id);
    check(Array.isArray(memberships) && memberships.length === 1 && memberships[0].delete_at > 0, 'getTeamMembersForUser: the removed membership', memberships);

    const png = new Blob([Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082', 'hex')], { type: 'image/png' });
    const up = await c.uploadProfileImage(created.id, png);
    check(up && up.status === 'OK', 'uploadProfileImage: StatusOK', up);
    const set = (await c.getUser(created.id)).last_picture_update;
    check(typeof set === 'number' && set > 0, 'uploadProfileImage: last_picture_update set', set);
    await expectError(
        () => c.uploadProfileImage(created.id, new Blob([Buffer.from('not an image')], { type: 'image/png' })),
        400,
        'api.user.upload_profile_user.decode.app_error',
        'uploadProfileImage: not an image',
    );
    const reset = await c.setDefaultProfileImage(created.id);
    check(reset && reset.status === 'OK', 'setDefaultProfileImage: StatusOK', reset);
    const after = (await c.getUser(created.id)).last_picture_update;
    check(typeof after === 'number' && after < 0, 'setDefaultProfileImage: last_picture_update = -now', after);
}

// ----- ping / logout ------------------------------------------------------------------------
{
    const ping = await c.ping(false);
    check(ping && ping.status === 'OK', 'ping: status OK', ping);
    await c.logout();
    await expectError(() => c.getUser(created.id), 401, 'api.context.session_expired.app_error', 'after logout');
}

console.log(`mattermost client4: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
