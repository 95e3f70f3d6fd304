#!/usr/bin/env python3
"""Drive a Mattermost-compatible server with a client nobody on this project wrote.

Uses the PyPI package `mattermostdriver` to log in, create, look up (by id, username,
email and a batch of usernames), list, patch, change roles and deactivate users, and
exits non-zero on any mismatch.

    ROSTER_SANDBOX_ADMIN_PASSWORD=... python mattermost_client.py http://127.0.0.1:PORT [SEEDED]

The server must hold `admin` (password from the environment) and `importer`, plus SEEDED
(default 0) other users; the script adds two (`conf.user`, `conf.other`).

The driver raises typed exceptions carrying only the error's `message`; the AppError ids
the facts sheet (mattermost-api.md) specifies are checked with plain `requests` calls on
the driver's own session token.

Where the package and the facts sheet disagree, the facts sheet wins:
- the driver's `create_user` passes any `roles` the caller gives; the server replaces them
  with `system_user`, so the script expects that;
- `update_user_role` takes whatever options it is given; the server wants `roles` as ONE
  space-separated string (an array would read as "" and clear the roles), so that is sent;
- the API reference the driver follows says login answers 201; the server answers 200
  (the driver only keeps the token on 200, so it agrees with the sheet here);
- the driver has no 429 handling; the sheet's limiter is off by default, as it is here.
"""

import os
import sys
from urllib.parse import urlparse

import requests
from mattermostdriver import Driver
from mattermostdriver.exceptions import (
    InvalidOrMissingParameters,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"MISMATCH: {what}", file=sys.stderr)


def make_driver(url, **options):
    u = urlparse(url)
    opts = {
        "url": u.hostname,
        "port": u.port or (443 if u.scheme == "https" else 80),
        "scheme": u.scheme,
        "basepath": "/api/v4",
    }
    opts.update(options)
    return Driver(opts)


def expect(call, exc, what):
    try:
        call()
    except exc:
        return
    except Exception as e:  # noqa: BLE001 - any other outcome is the mismatch
        check(False, f"{what}: raised {type(e).__name__}: {e}, expected {exc.__name__}")
        return
    check(False, f"{what}: succeeded, expected {exc.__name__}")


class Raw:
    """Plain HTTP with the driver's token, to see statuses and AppError ids."""

    def __init__(self, url, token):
        self.base = url.rstrip("/") + "/api/v4"
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None):
        r = requests.request(method, self.base + path, json=body, headers=self.headers, timeout=30)
        try:
            data = r.json()
        except ValueError:
            data = None
        return r.status_code, data

    def expect_error(self, method, path, body, status, error_id, what):
        got_status, data = self.call(method, path, body)
        check(got_status == status, f"{what}: status {got_status} != {status}")
        got_id = (data or {}).get("id") if isinstance(data, dict) else None
        check(got_id == error_id, f"{what}: id {got_id!r} != {error_id!r}")
        if isinstance(data, dict):
            check(data.get("status_code") == status, f"{what}: status_code {data}")
            check("detailed_error" in data and "request_id" in data, f"{what}: AppError shape {data}")


def main():
    url = sys.argv[1]
    seeded = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    password = os.environ["ROSTER_SANDBOX_ADMIN_PASSWORD"]

    bad = make_driver(url, login_id="admin", password="not-the-password")
    expect(bad.login, NoAccessTokenProvided, "login with a wrong password")

    d = make_driver(url, login_id="admin", password=password)
    me = d.login()
    check(me.get("username") == "admin", f"login: {me}")
    token = d.client.token
    check(isinstance(token, str) and len(token) == 26, f"login token: {token!r}")
    check(d.client.userid == me.get("id"), "the driver kept the user id")
    raw = Raw(url, token)

    check(d.system.check_system_health() == {"status": "OK"}, "system ping")
    check(d.users.get_user("me").get("username") == "admin", "users/me")

    created = d.users.create_user(
        options={
            "username": "Conf.User",
            "email": "Conf.User@Example.org",
            "password": "Conf-pw-123",
            "first_name": "Conf",
            "last_name": "User",
            "roles": "system_admin",
        }
    )
    uid = created.get("id", "")
    check(len(uid) == 26, f"create_user id: {created}")
    check(created.get("username") == "conf.user", f"username lowercased: {created}")
    check(created.get("email") == "conf.user@example.org", f"email lowercased: {created}")
    check(created.get("roles") == "system_user", f"client roles replaced: {created}")
    check("password" not in created, "no password in the answer")
    status, _ = raw.call(
        "POST",
        "/users",
        {"username": "conf.other", "email": "conf.other@example.org", "password": "Conf-pw-123"},
    )
    check(status == 201, f"create answers 201, not {status}")

    expect(
        lambda: d.users.create_user(
            options={"username": "CONF.USER", "email": "x@example.org", "password": "Conf-pw-123"}
        ),
        InvalidOrMissingParameters,
        "duplicate username in another case",
    )
    raw.expect_error(
        "POST",
        "/users",
        {"username": "CONF.USER", "email": "x@example.org", "password": "Conf-pw-123"},
        400,
        "app.user.save.username_exists.app_error",
        "duplicate username",
    )
    raw.expect_error(
        "POST",
        "/users",
        {"username": "conf.x", "email": "CONF.USER@example.org", "password": "Conf-pw-123"},
        400,
        "app.user.save.email_exists.app_error",
        "duplicate email",
    )
    raw.expect_error(
        "POST",
        "/users",
        {"username": "conf.y", "email": "conf.y@example.org", "password": "short"},
        400,
        "model.user.is_valid.pwd_min_length.app_error",
        "short password",
    )

    check(d.users.get_user(uid).get("username") == "conf.user", "get_user by id")
    check(d.users.get_user_by_username("conf.user").get("id") == uid, "get_user_by_username")
    check(d.users.get_user_by_email("CONF.USER@example.org").get("id") == uid, "get_user_by_email")
    expect(
        lambda: d.users.get_user_by_username("Conf.User"),
        InvalidOrMissingParameters,
        "an uppercase username in the path",
    )
    expect(
        lambda: d.users.get_user_by_username("no.such.user"),
        ResourceNotFound,
        "an unknown username",
    )
    raw.expect_error(
        "GET", "/users/username/no.such.user", None, 404, "app.user.get_by_username.app_error", "unknown username"
    )
    batch = d.users.get_users_by_usernames(["conf.user", "CONF.USER", "ghost", "admin"])
    check([u.get("username") for u in batch] == ["admin", "conf.user"], f"usernames batch: {batch}")

    # Pages until a short one, like a careful client.
    everyone = []
    page = 0
    while True:
        batch = d.users.get_users(params={"page": page, "per_page": 100})
        everyone.extend(batch)
        if len(batch) < 100:
            break
        page += 1
    names = [u.get("username") for u in everyone]
    check(len(names) == seeded + 4, f"get_users returned {len(names)} users, expected {seeded + 4}")
    check(names == sorted(names), "get_users is sorted by username")
    check(len(set(names)) == len(names), "no user twice across pages")
    big = d.users.get_users(params={"per_page": 500})
    check(len(big) == min(200, seeded + 4), f"per_page=500 gives {len(big)}")
    default = d.users.get_users()
    check(len(default) == min(60, seeded + 4), f"the default page has {len(default)}")

    patched = d.users.patch_user(uid, options={"nickname": "conf", "position": "Tester"})
    check(patched.get("nickname") == "conf" and patched.get("position") == "Tester", f"patch: {patched}")
    check(patched.get("first_name") == "Conf", f"patch left first_name alone: {patched}")
    expect(
        lambda: d.users.patch_user(uid, options={"username": "admin"}),
        InvalidOrMissingParameters,
        "patch to a taken username",
    )

    ok = d.users.update_user_role(uid, options={"roles": "system_user system_admin"})
    check(ok == {"status": "OK"}, f"update_user_role: {ok}")
    check(d.users.get_user(uid).get("roles") == "system_user system_admin", "roles changed")
    d.users.update_user_role(uid, options={"roles": "system_user"})
    expect(
        lambda: d.users.update_user_role(uid, options={"roles": "system_admin"}),
        InvalidOrMissingParameters,
        "system_admin alone",
    )

    # The new user cannot change others.
    conf = make_driver(url, login_id="conf.user", password="Conf-pw-123")
    conf.login()
    expect(
        lambda: conf.users.update_user_active_status(me["id"], options={"active": False}),
        NotEnoughPermissions,
        "a plain user deactivating the admin",
    )

    ok = d.users.update_user_active_status(uid, options={"active": False})
    check(ok == {"status": "OK"}, f"update_user_active_status: {ok}")
    check(d.users.get_user(uid).get("delete_at", 0) > 0, "deactivated")
    expect(lambda: conf.users.get_user("me"), NoAccessTokenProvided, "the deactivated user's session")
    again = make_driver(url, login_id="conf.user", password="Conf-pw-123")
    expect(again.login, NoAccessTokenProvided, "a deactivated user logging in")
    d.users.update_user_active_status(uid, options={"active": True})
    check(d.users.get_user(uid).get("delete_at") == 0, "reactivated")
    raw.expect_error(
        "PUT", f"/users/{uid}/active", {"active": "false"}, 400, "api.context.invalid_body_param.app_error",
        "active as a string",
    )

    ok = d.users.deactivate_user(uid)
    check(ok == {"status": "OK"}, f"deactivate_user: {ok}")
    after = d.users.get_user(uid)
    check(after.get("delete_at", 0) > 0, f"DELETE deactivates, the user stays: {after}")

    # The token option instead of a login.
    by_token = make_driver(url, token=token)
    check(by_token.login().get("username") == "admin", "login with a token")

    out = d.logout()
    check(out == {"status": "OK"}, f"logout: {out}")
    expect(lambda: by_token.users.get_user("me"), NoAccessTokenProvided, "the token after logout")

    if FAILURES:
        print(f"{len(FAILURES)} mismatch(es)", file=sys.stderr)
        return 1
    print("mattermostdriver conformance: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
