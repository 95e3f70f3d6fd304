#!/usr/bin/env python3
"""Drive a Rocket.Chat-compatible server with a client nobody on this project wrote.

Uses the PyPI package `rocketchat-api` (module `rocketchat_API`) to log in, create, look
up, list, update and deactivate users, and exits non-zero on any mismatch.

    ROSTER_SANDBOX_ADMIN_PASSWORD=... python rocketchat_client.py http://127.0.0.1:PORT

The server must hold the users `admin` (password from the environment) and, optionally,
`seed.NNN` users (the count is argv[2], default 0) besides `importer`.

Where the package and the facts sheet (rocketchat-api.md) disagree, the facts sheet wins:
- users.update is 2FA-protected on the real server; the package has no 2FA support, so
  the `x-2fa-code` / `x-2fa-method` headers are put on its session headers by hand, and
  the sandbox runs WITH 2FA (its default).
"""

import hashlib
import os
import sys

from rocketchat_API.APIExceptions.RocketExceptions import (
    RocketApiException,
    RocketAuthenticationException,
)
from rocketchat_API.rocketchat import RocketChat

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"MISMATCH: {what}", file=sys.stderr)


def expect_api_error(call, status, error_type, error=None, what=""):
    try:
        call()
    except RocketApiException as e:
        check(e.status_code == status, f"{what}: status {e.status_code} != {status}")
        check(
            e.error_type == error_type,
            f"{what}: errorType {e.error_type!r} != {error_type!r}",
        )
        if error is not None:
            check(e.error == error, f"{what}: error {e.error!r} != {error!r}")
        return
    check(False, f"{what}: the call succeeded, expected {error_type}")


def main():
    url = sys.argv[1]
    seeded = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    password = os.environ["ROSTER_SANDBOX_ADMIN_PASSWORD"]

    try:
        RocketChat("admin", "not-the-password", server_url=url)
        check(False, "login with a wrong password succeeded")
    except RocketAuthenticationException:
        pass

    rc = RocketChat("admin", password, server_url=url)
    info = rc.info()
    check(info.get("success") is True, f"/api/info: {info}")
    check(str(info.get("version", "")).startswith("7."), f"/api/info version: {info}")
    me = rc.me()
    check(me.get("username") == "admin", f"me: {me}")

    created = rc.users_create(
        "conf.user@example.org",
        "Conformance User",
        "Conf-pw-1",
        "conf.user",
        active=True,
        roles=["user"],
        joinDefaultChannels=False,
        verified=True,
        requirePasswordChange=False,
    )
    check(created.get("success") is True, f"users.create: {created}")
    user = created.get("user", {})
    uid = user.get("_id")
    check(bool(uid), f"users.create returned no _id: {created}")
    check(user.get("username") == "conf.user", f"users.create username: {user}")
    check(
        user.get("emails") == [{"address": "conf.user@example.org", "verified": True}],
        f"users.create emails: {user}",
    )

    expect_api_error(
        lambda: rc.users_create("other@example.org", "Other", "pw", "Conf.User"),
        400,
        "error-field-unavailable",
        "Conf.User is already in use :( [error-field-unavailable]",
        "duplicate username in another case",
    )
    expect_api_error(
        lambda: rc.users_create("x@example.org", "Bad <Name>", "pw", "bad.name"),
        400,
        None,
        "Name contains invalid characters",
        "name with <",
    )

    by_id = rc.users_info(user_id=uid)
    check(by_id.get("user", {}).get("username") == "conf.user", f"users.info by id: {by_id}")
    by_name = rc.users_info(username="conf.user")
    check(by_name.get("user", {}).get("_id") == uid, f"users.info by username: {by_name}")
    expect_api_error(
        lambda: rc.users_info(username="no.such.user"),
        400,
        None,
        "User not found.",
        "users.info of an unknown user",
    )

    # The package pages with offset/count until a short page.
    everyone = list(rc.users_list(count=50))
    names = [u.get("username") for u in everyone]
    check(len(names) == seeded + 3, f"users.list returned {len(names)} users")
    check(names == sorted(names), "users.list is not sorted by username")
    check("conf.user" in names, "users.list misses the new user")
    page = rc.call_api_get("users.list", count=500)
    check(page.get("count") == min(100, seeded + 3), f"count=500 page: {page.get('count')}")
    check(page.get("total") == seeded + 3, f"users.list total: {page.get('total')}")

    # users.update needs 2FA: without the headers the server refuses.
    expect_api_error(
        lambda: rc.users_update(uid, name="Renamed User"),
        400,
        "totp-required",
        "TOTP Required [totp-required]",
        "users.update without 2FA",
    )
    rc.headers["x-2fa-code"] = hashlib.sha256(password.encode()).hexdigest()
    rc.headers["x-2fa-method"] = "password"
    updated = rc.users_update(uid, name="Renamed User", email="renamed@example.org")
    check(updated.get("success") is True, f"users.update: {updated}")
    check(updated.get("user", {}).get("name") == "Renamed User", f"users.update name: {updated}")
    del rc.headers["x-2fa-code"]
    del rc.headers["x-2fa-method"]
    # Remembered for this token, User-Agent and address.
    again = rc.users_update(uid, nickname="renamed")
    check(again.get("success") is True, f"users.update inside the remember window: {again}")

    deact = rc.users_set_active_status(uid, False)
    check(
        deact.get("user") == {"_id": uid, "active": False},
        f"users.setActiveStatus: {deact}",
    )
    after = rc.users_info(user_id=uid).get("user", {})
    check(after.get("active") is False, f"users.info after deactivation: {after}")
    check(after.get("emails", [{}])[0].get("address") == "renamed@example.org", f"email: {after}")
    try:
        RocketChat("conf.user", "Conf-pw-1", server_url=url)
        check(False, "a deactivated user could log in")
    except RocketAuthenticationException:
        pass

    out = rc.logout()
    check(out.get("status") == "success", f"logout: {out}")

    if FAILURES:
        print(f"{len(FAILURES)} mismatch(es)", file=sys.stderr)
        return 1
    print("rocketchat-api conformance: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
