"""What administrators write today: a sequential loop over a CSV with the
`rocketchat-api` package, sleeping when the server answers 429.

    python benches/python_baseline.py URL USER PASSWORD users.csv

Used by `cargo run --release --example bench -- python` as the baseline.
"""
import csv
import re
import sys
import time

from rocketchat_API.APIExceptions.RocketExceptions import RocketApiException
from rocketchat_API.rocketchat import RocketChat


def main():
    url, user, password, path = sys.argv[1:5]
    rc = RocketChat(user, password, server_url=url)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            while True:
                try:
                    rc.users_create(
                        email=row["email"],
                        name=row["name"],
                        password=row["password"],
                        username=row["username"],
                    )
                except RocketApiException as e:
                    if e.status_code == 429:
                        m = re.search(r"wait (\d+) seconds", e.response)
                        time.sleep(int(m.group(1)) if m else 1)
                        continue
                    print(row["username"], e.status_code, e.error, file=sys.stderr)
                break


if __name__ == "__main__":
    main()
