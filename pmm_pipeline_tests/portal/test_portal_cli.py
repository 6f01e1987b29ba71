"""`pmm accounts` and `pmm portal` on a fresh data folder: one-line errors, non-zero exits, tokens shown once.

The commands run in one child process (Django is configured once per process, on that process's PMM_DATA_DIR),
which calls `pmm`'s main() for each command line and reports exit status, output and errors as JSON.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.subprocess


SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from pmm_pipeline.app.cli import main
    results = []
    for argv, stdin in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit:
                code = exit.code
        results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
    print(json.dumps(results))
    """
)
PASSWORD = "a long enough passphrase 7"


def _run(tmp_path, commands):
    env = {**os.environ, "PMM_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(commands)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("accounts")
    commands = [
        (
            [
                "accounts",
                "add",
                "--login",
                "ken.ncp",
                "--role",
                "ncp",
                "--member",
                "ken",
                "--lang",
                "fr",
                "--password-stdin",
            ],
            PASSWORD + "\n",
        ),
        (["accounts", "add", "--login", "ken.ncp", "--role", "ncp", "--member", "KEN"], ""),  # exists
        (["accounts", "add", "--login", "x", "--role", "ncp", "--member", "ZZZ"], ""),  # bad login and member
        (["accounts", "add", "--login", "nomember", "--role", "ncp"], ""),
        (["accounts", "add", "--login", "sec", "--role", "secretariat", "--password-stdin"], "\n"),  # empty password
        (["accounts", "add", "--login", "sec", "--role", "secretariat", "--password-stdin"], "short\n"),
        (["accounts", "add", "--login", "sec", "--role", "admin"], ""),
        (["accounts", "add", "--login", "expert", "--role", "reviewer"], ""),
        (["accounts", "assign", "--login", "expert", "--member", "KEN"], ""),
        (["accounts", "assign", "--login", "ken.ncp", "--member", "KEN"], ""),  # not a reviewer
        (["accounts", "token", "--login", "ken.ncp"], ""),
        (["accounts", "token", "--login", "nobody"], ""),
        (["accounts", "disable", "--login", "ken.ncp"], ""),
        (["accounts", "token", "--login", "ken.ncp"], ""),  # disabled
        (["accounts", "list", "--json"], ""),
        (["accounts", "demo", "--member", "SEN"], ""),
        (["portal", "--port", "0"], ""),
    ]
    outcome = _run(tmp_path, commands)
    return tmp_path, dict(zip(range(len(commands)), outcome, strict=True))


def test_add_then_errors_are_one_line_and_non_zero(results):
    _, r = results
    assert r[0]["code"] == 0 and "ken.ncp" in r[0]["out"] and "KEN" in r[0]["out"]
    for i, words in (
        (1, "exists already"),
        (2, "login 'x'"),
        (3, "needs --member"),
        (4, "read no password"),
        (5, "password refused"),
        (6, "unknown role"),
        (9, "only reviewers"),
    ):
        assert r[i]["code"] != 0, i
        assert words in r[i]["err"], (i, r[i]["err"])
        assert len(r[i]["err"].strip().splitlines()) == 1, r[i]["err"]


def test_token_is_printed_once_and_kept_as_a_hash(results):
    tmp_path, r = results
    import sqlite3

    token = r[10]["out"].strip()
    assert token.startswith("pmm_") and len(token) > 40 and r[10]["code"] == 0
    database = sqlite3.connect(tmp_path / "data" / "portal.sqlite3")
    stored = [row[0] for row in database.execute("SELECT digest FROM portal_apitoken")]
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest() in stored
    dump = "\n".join(database.iterdump())
    assert token not in dump and PASSWORD not in dump
    assert r[11]["code"] != 0 and "no account" in r[11]["err"]


def test_disable_list_assign_and_demo(results):
    _, r = results
    assert r[12]["code"] == 0 and r[13]["code"] != 0 and "disabled" in r[13]["err"]
    listed = {row["login"]: row for row in json.loads(r[14]["out"])}
    assert listed["ken.ncp"]["active"] is False and listed["ken.ncp"]["lang"] == "fr"
    assert listed["expert"]["assigned"] == ["KEN"] and listed["expert"]["role"] == "reviewer"
    assert r[15]["code"] == 0 and "demo-ncp" in r[15]["out"] and "demo-secretariat" in r[15]["out"]
    assert r[16]["code"] != 0 and "--port 0" in r[16]["err"]
