"""The product as a newcomer meets it: `rapport demo` seeds, `rapport serve` serves, logins work."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(var_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env["RAPPORT_VAR_DIR"] = str(var_dir)  # the embedded SQLite default, in a fresh folder
    return env


def _rapport(*args, env, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rapport.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _sign_in(base: str, username: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": base})
    return opener.open(request, timeout=30).read().decode()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("demo")
    env = _env(var_dir)
    result = _rapport("demo", "--no-serve", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    logins = re.findall(r"^\s+(.+?)\s{2,}(\S+)\s+password: (\S+)$", result.stdout, re.M)
    return env, result.stdout, logins


def test_demo_prints_url_and_one_login_per_role(demo):
    _, stdout, logins = demo
    assert "http://127.0.0.1:8000/" in stdout
    roles = {role.strip().lower() for role, _, _ in logins}
    assert {"front desk", "dentist", "office manager", "group director"} <= roles


def test_demo_practice_has_enough_patients_and_history(demo):
    env, _, _ = demo
    script = (
        "from patients.models import Patient, Appointment;"
        "from django.db.models import Min, Max;"
        "p = Patient.objects.filter(practice__slug='maple');"
        "a = Appointment.objects.filter(practice__slug='maple')"
        ".aggregate(lo=Min('starts_at'), hi=Max('starts_at'));"
        "print(p.count(), (a['hi'] - a['lo']).days)"
    )
    result = _rapport("shell", "--no-imports", "-c", script, env=env)
    patients, span_days = map(int, result.stdout.split())
    assert patients >= 1500
    assert span_days >= 3 * 365


def _patient_count(env) -> int:
    script = "from patients.models import Patient; print(Patient.objects.count())"
    return int(_rapport("shell", "--no-imports", "-c", script, env=env).stdout)


def test_demo_is_idempotent(demo):
    env, _, _ = demo
    before = _patient_count(env)
    again = _rapport("demo", "--no-serve", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _patient_count(env) == before > 0


def test_served_app_accepts_every_printed_login(demo):
    env, _, logins = demo
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rapport.cli",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                health = urllib.request.urlopen(f"{base}/healthz", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("rapport serve did not answer within 20 s")
        assert '"status": "ok"' in health
        for role, username, password in logins:
            page = _sign_in(base, username, password)
            assert "Sign out" in page, role
            assert "Maple Street Dental" in page or "Harbor Dental" in page, role
    finally:
        server.terminate()
        server.wait(timeout=30)
