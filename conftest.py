"""Named personas shared by every test: the people of one practice and an outsider.

Canary names make any cross-tenant leak easy to spot in a response body.
"""

import importlib
import os
from pathlib import Path

import pytest

from core.models import Membership
from core.tests.factories import OrganisationFactory, PracticeFactory, member
from patients.tests.factories import PatientFactory

OTHER_CANARY = "ZZCANARY"


@pytest.fixture(autouse=True)
def _fast_and_immediate(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    from django.core.cache import cache

    cache.clear()  # rate-limit counters must not leak from one test into the next


@pytest.fixture(autouse=True, scope="session")
def _audit_rows_flushable_on_sqlite():
    """Transactional tests end by emptying every table. On SQLite that is a DELETE, which
    the audit log's append-only triggers refuse: lift them for that flush only. (PostgreSQL
    empties tables with TRUNCATE, which the triggers leave alone.)"""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    DatabaseOperations = DatabaseWrapper.ops_class
    create, drop = importlib.import_module("core.migrations.0004_audit_chain").TRIGGERS["sqlite"]
    sql_flush = DatabaseOperations.sql_flush

    def flush_past_audit_triggers(self, style, tables, **kwargs):
        statements = sql_flush(self, style, tables, **kwargs)
        if "core_auditevent" not in tables:
            return statements
        return [*drop, *statements, *create]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", flush_past_audit_triggers)
        yield


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Bright Smiles Group", slug="smiles-group")


@pytest.fixture
def practice(organisation):
    return PracticeFactory(organisation=organisation, name="Maple Street Dental", slug="maple")


@pytest.fixture
def sister_practice(organisation):
    """Another practice of the same organisation."""
    return PracticeFactory(organisation=organisation, name="Harbor Dental", slug="harbor")


@pytest.fixture
def other_practice(db):
    """A practice of another organisation altogether."""
    return PracticeFactory(name=f"{OTHER_CANARY} Practice", slug="canary")


@pytest.fixture
def manager(practice):
    return member(practice, Membership.Role.MANAGER, username="olivia")


@pytest.fixture
def front_desk(practice):
    return member(practice, Membership.Role.FRONT_DESK, username="frank")


@pytest.fixture
def clinician(practice):
    return member(practice, Membership.Role.CLINICIAN, username="dr-chen")


@pytest.fixture
def director(practice):
    return member(practice, Membership.Role.GROUP_ADMIN, username="grace")


@pytest.fixture
def outsider(other_practice):
    return member(other_practice, Membership.Role.MANAGER, username="oscar")


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice, first_name="Dana", last_name="Whitfield")


@pytest.fixture
def other_patient(other_practice):
    return PatientFactory(practice=other_practice, first_name=OTHER_CANARY, last_name="Patient")


@pytest.fixture
def sister_patient(sister_practice):
    return PatientFactory(
        practice=sister_practice, first_name=f"{OTHER_CANARY}Sister", last_name="Patient"
    )


# --- Browser tests: Debian's Chromium driven by Playwright -------------------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def browser_page(live_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("headless Chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(10_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# --- A real SMTP server on loopback ------------------------------------------------


@pytest.fixture
def smtp_sink(settings):
    from messaging.tests.sink import SmtpSink

    """A real SMTP server on a free loopback port, with Django's SMTP backend pointed at it."""
    sink = SmtpSink()
    sink.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Rapport <rapport@rapport.test>"
    yield sink
    sink.stop()
