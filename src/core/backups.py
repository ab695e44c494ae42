"""Backups (TRUST.md R9): ``rapport backup FILE`` and ``rapport restore FILE``.

A backup file is one sealed archive::

    header   73 bytes: b"RAPPORT BACKUP\\n", format, flags, salt, iv, key check, payload length
    payload  a tar (zlib-compressed for SQLite) of manifest.json and the database dump,
             encrypted with AES-256-CTR
    tag      HMAC-SHA256 over the payload and then the header

Both keys (and the key check) come from RAPPORT_BACKUP_KEY through HKDF-SHA256 with the
file's random salt, so no two files share a key. The tag is checked before anything is
restored, and again while the payload is decrypted, so a file changed between the two
reads is refused too.

The manifest holds the row count and a content checksum of every table, taken from the
same snapshot as the dump: SQLite's from the copy the online backup API made while a read
transaction pinned the source; PostgreSQL's inside the REPEATABLE READ transaction whose
snapshot ``pg_dump --snapshot`` reads. A restore recomputes them and fails on any
difference. Checksums are comparable within one vendor only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import IsolationLevel, errors, sql
from psycopg.conninfo import make_conninfo

FORMAT = 1
MAGIC = b"RAPPORT BACKUP\n"
# magic, format, flags, salt, iv, key check, payload length
HEADER = struct.Struct(">15sBB16s16s16sQ")
TAG_BYTES = 32
FLAG_ZLIB = 0x01
CHUNK = 1 << 20
MIN_KEY_CHARS = 32
MANIFEST = "manifest.json"
DUMPS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
KEY_HELP = (
    "generate one with `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
    "keep a copy away from the backups (without it they cannot be read), and set "
    "RAPPORT_BACKUP_KEY or RAPPORT_BACKUP_KEY_FILE"
)

Progress = Callable[..., None]
Steps = Callable[..., AbstractContextManager[Progress]]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@contextlib.contextmanager
def quiet_steps(label: str, *, unit: str = "rows") -> Iterator[Progress]:
    """The default ``steps``: no progress shown."""
    yield lambda done, total=None: None


# --- The database to back up or restore into ----------------------------------------------


@dataclass(frozen=True)
class Database:
    """One database, described by its Django ``DATABASES`` entry."""

    vendor: str
    settings: Mapping[str, Any]

    @property
    def label(self) -> str:
        if self.vendor == "sqlite":
            return str(self.settings["NAME"])
        host = self.settings.get("HOST") or "local socket"
        port = f":{self.settings['PORT']}" if self.settings.get("PORT") else ""
        return f"{self.settings['NAME']} on {host}{port}"


def database_from_settings(entry: Mapping[str, Any]) -> Database:
    engine = entry.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        return Database("sqlite", dict(entry))
    if engine.endswith(("postgresql", "postgis")):
        return Database("postgresql", dict(entry))
    raise BackupError(f"backups support SQLite and PostgreSQL, not {engine}")


def configured_database() -> Database:
    """The database Rapport runs on (RAPPORT_DATABASE_URL, or the embedded SQLite)."""
    from django.conf import settings

    return database_from_settings(settings.DATABASES["default"])


def backup_key() -> str:
    """RAPPORT_BACKUP_KEY, read only by the commands that need it (not by the web server)."""
    from rapport.settings import env_str

    key = env_str("RAPPORT_BACKUP_KEY").strip()
    if not key:
        raise BackupError(f"RAPPORT_BACKUP_KEY is not set: {KEY_HELP}")
    if len(key) < MIN_KEY_CHARS:
        raise BackupError(
            f"RAPPORT_BACKUP_KEY is {len(key)} characters; it needs at least "
            f"{MIN_KEY_CHARS} random ones: {KEY_HELP}"
        )
    return key


# --- Backup -------------------------------------------------------------------------------


def backup_create(
    *, path: Path, database: Database, key: str, force: bool = False, steps: Steps = quiet_steps
) -> dict:
    """Write a consistent, sealed backup of ``database`` to ``path``; return its manifest."""
    path = Path(path)
    _check_destination(path, force=force)
    if database.vendor == "sqlite" and not Path(database.settings["NAME"]).is_file():
        raise BackupError(
            f"no database at {database.label}: nothing to back up (check RAPPORT_VAR_DIR "
            "or RAPPORT_DATABASE_URL)"
        )
    try:
        return _backup(path, database, key, force=force, steps=steps)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise BackupError(f"{database.label}: {exc}") from exc


def _backup(path: Path, database: Database, key: str, *, force: bool, steps: Steps) -> dict:
    # The plain dump stays beside the database (or in TMPDIR for PostgreSQL); only the
    # encrypted file is written where the backup goes, which may be removable or shared.
    with (
        _scratch(database, prefix=".rapport-backup-") as scratch,
        tempfile.TemporaryDirectory(dir=path.parent, prefix=".rapport-backup-") as sealing,
    ):
        dump = scratch / DUMPS[database.vendor]
        if database.vendor == "sqlite":
            state = _sqlite_dump(database, dump, steps)
        else:
            state = _postgres_dump(database, dump, steps)
        manifest = {
            "format": FORMAT,
            "app": "rapport",
            "rapport_version": _rapport_version(),
            "vendor": database.vendor,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **state,
            "dump": {"name": dump.name, "bytes": dump.stat().st_size, "sha256": _sha256(dump)},
        }
        sealed = Path(sealing) / path.name
        archive_write(sealed, key=key, manifest=manifest, dump=dump, steps=steps)
        _publish(sealed, path, force=force)
    return manifest


@contextlib.contextmanager
def _scratch(database: Database, *, prefix: str) -> Iterator[Path]:
    """A private folder for plain copies: beside the SQLite file, else in TMPDIR."""
    parent = None
    if database.vendor == "sqlite":
        parent = Path(database.settings["NAME"]).parent  # the same file system, too
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=prefix) as scratch:
        yield Path(scratch)


def _check_destination(path: Path, *, force: bool) -> None:
    if path.is_dir():
        raise BackupError(f"{path} is a folder: name the backup file to write")
    if not path.parent.is_dir():
        raise BackupError(f"folder {path.parent} does not exist: create it first")
    if not os.access(path.parent, os.W_OK):
        raise BackupError(f"cannot write in {path.parent}: choose a folder you can write to")
    if path.exists() and not force:
        raise BackupError(f"{path} already exists: choose another name, or pass --force")


def _publish(sealed: Path, path: Path, *, force: bool) -> None:
    """Put the finished file in place: whole or not at all, never over a file without force."""
    sealed.chmod(0o600)
    with open(sealed, "rb") as file:
        os.fsync(file.fileno())
    exists = BackupError(f"{path} already exists: choose another name, or pass --force")
    if force:
        os.replace(sealed, path)
    else:
        try:
            os.link(sealed, path)  # fails if a file appeared there meanwhile
        except FileExistsError:
            raise exists from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise exists from None
            os.replace(sealed, path)
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _rapport_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapport")
    except PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- Restore ------------------------------------------------------------------------------


def backup_restore(
    *, path: Path, database: Database, key: str, force: bool = False, steps: Steps = quiet_steps
) -> dict:
    """Restore the backup at ``path`` into ``database`` and check it; return its manifest.

    Nothing in the database changes unless the file is intact, made with ``key``, of the
    same vendor, and the database is empty or ``force`` is given.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with _scratch(database, prefix=".rapport-restore-") as scratch:
            manifest, dump = archive_read(path, key=key, into=scratch, steps=steps)
            _check_manifest(manifest, database)
            if database.vendor == "sqlite":
                _sqlite_restore(database, dump, manifest, force=force, steps=steps)
            else:
                _postgres_restore(database, dump, manifest, force=force, steps=steps)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise BackupError(f"{database.label}: {exc}") from exc
    return manifest


def _check_manifest(manifest: dict, database: Database) -> None:
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"this backup has format {manifest.get('format')}; this version of Rapport reads "
            f"format {FORMAT}: restore it with the Rapport version that made it "
            f"({manifest.get('rapport_version', 'unknown')})"
        )
    vendor = manifest.get("vendor")
    if vendor != database.vendor:
        made, here = VENDOR_NAMES.get(vendor, str(vendor)), VENDOR_NAMES[database.vendor]
        how = (
            "set RAPPORT_DATABASE_URL to an empty PostgreSQL database"
            if vendor == "postgresql"
            else "unset RAPPORT_DATABASE_URL to use the embedded SQLite database"
        )
        raise BackupError(
            f"this is a backup of a {made} database and the configured database is {here} "
            f"({database.label}); a backup restores only into the same kind of database: {how}"
        )


def compare_tables(expected: Mapping[str, dict], found: Mapping[str, dict]) -> list[str]:
    """What differs between two ``{table: {"rows", "checksum"}}`` maps, one line each."""
    problems = []
    for table in sorted(expected.keys() | found.keys()):
        if table not in found:
            problems.append(f"{table}: in the backup, missing after the restore")
        elif table not in expected:
            problems.append(f"{table}: not in the backup, present after the restore")
        elif expected[table]["rows"] != found[table]["rows"]:
            problems.append(
                f"{table}: {expected[table]['rows']} rows in the backup, "
                f"{found[table]['rows']} restored"
            )
        elif expected[table]["checksum"] != found[table]["checksum"]:
            problems.append(f"{table}: same row count, different contents")
    return problems


def _check_tables(manifest: dict, found: Mapping[str, dict], *, where: str) -> None:
    problems = compare_tables(manifest["tables"], found)
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if problems[5:] else ""
        )
        raise BackupError(f"{where} does not match the backup's manifest: {shown}")


def migrations_behind(manifest: dict) -> tuple[list[str], list[str]]:
    """Migrations this code has that the backup lacks, and those it has that the code lacks."""
    from django.db.migrations.loader import MigrationLoader

    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    applied = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    return (
        sorted(f"{app}.{name}" for app, name in known - applied),
        sorted(f"{app}.{name}" for app, name in applied - known),
    )


def _migrations(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(rows):
        applied.setdefault(app, []).append(name)
    return applied


# --- The sealed file ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    cipher: bytes
    mac: bytes
    check: bytes


def _derive(key: str, salt: bytes) -> _Keys:
    material = HKDF(
        algorithm=hashes.SHA256(), length=80, salt=salt, info=b"rapport backup 1"
    ).derive(key.encode())
    return _Keys(cipher=material[:32], mac=material[32:64], check=material[64:])


def archive_write(
    path: Path, *, key: str, manifest: dict, dump: Path, steps: Steps = quiet_steps
) -> None:
    """Seal ``manifest`` and the ``dump`` file into a new backup file at ``path``."""
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    keys = _derive(key, salt)
    flags = FLAG_ZLIB if manifest["vendor"] == "sqlite" else 0  # pg_dump -Fc is compressed
    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
    size = dump.stat().st_size
    with open(path, "xb") as file, steps("encrypting the backup", unit="MiB") as progress:
        file.write(b"\0" * HEADER.size)  # written for real once the length is known
        sealer = _Sealer(file, keys, iv, compress=bool(flags & FLAG_ZLIB))
        with tarfile.open(fileobj=sealer, mode="w|") as tar:
            _add(tar, MANIFEST, len(body), _BytesReader(body))
            with open(dump, "rb") as source:
                counting = _Counting(source, lambda n: progress(n >> 20, size >> 20))
                _add(tar, dump.name, size, counting)
        length, mac = sealer.finish()
        header = HEADER.pack(MAGIC, FORMAT, flags, salt, iv, keys.check, length)
        mac.update(header)
        file.write(mac.digest())
        file.seek(0)
        file.write(header)


def _add(tar: tarfile.TarFile, name: str, size: int, source: IO[bytes]) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(dt.datetime.now(dt.UTC).timestamp())
    tar.addfile(info, source)


def archive_read(
    path: Path, *, key: str, into: Path, steps: Steps = quiet_steps
) -> tuple[dict, Path]:
    """Check the backup at ``path``, then decrypt it into ``into``: (manifest, dump file)."""
    with open(path, "rb") as file:
        flags, iv, keys, length = _open_header(path, file, key)
        with steps("checking the backup's seal", unit="MiB") as progress:
            mac = hmac.new(keys.mac, digestmod=hashlib.sha256)
            done = 0
            while done < length:
                chunk = file.read(min(CHUNK, length - done))
                if not chunk:
                    raise BackupError(f"{path} became shorter while it was read")
                mac.update(chunk)
                done += len(chunk)
                progress(done >> 20, length >> 20)
            _check_tag(path, file, mac, length)
        file.seek(HEADER.size)
        with steps("decrypting the backup", unit="MiB") as progress:
            opener = _Opener(path, file, keys, iv, length, bool(flags & FLAG_ZLIB), progress)
            found = _extract(opener, into)
            opener.drain()  # checks the tag again: the file may have changed since
    if MANIFEST not in found or len(found) != 2:
        raise BackupError(f"{path} holds {sorted(found)}: not a Rapport backup's contents")
    manifest = json.loads(found[MANIFEST].read_bytes())
    dump = found.get(manifest.get("dump", {}).get("name", ""))
    if dump is None or _sha256(dump) != manifest["dump"]["sha256"]:
        raise BackupError(f"{path}: the database dump does not match its manifest")
    return manifest, dump


def _open_header(path: Path, file: IO[bytes], key: str) -> tuple[int, bytes, _Keys, int]:
    size = os.fstat(file.fileno()).st_size
    raw = file.read(HEADER.size)
    if not raw:
        raise BackupError(f"{path} is empty: not a backup, or a copy that never started")
    if raw[: len(MAGIC)] != MAGIC and not MAGIC.startswith(raw):
        raise BackupError(f"{path} is not a Rapport backup file")
    if len(raw) < HEADER.size:
        raise BackupError(f"{path} is incomplete: {size} bytes, cut short inside its header")
    _, version, flags, salt, iv, check, length = HEADER.unpack(raw)
    if version != FORMAT:
        raise BackupError(
            f"{path} has file format {version}; this version of Rapport reads format {FORMAT}"
        )
    expected = HEADER.size + length + TAG_BYTES
    if size < expected:
        raise BackupError(
            f"{path} is incomplete: {size} bytes where the backup needs {expected} (a copy or "
            "upload that stopped early?). Nothing was restored: use a complete copy"
        )
    if size > expected:
        raise BackupError(f"{path} has {size - expected} unexpected bytes after the backup")
    keys = _derive(key, salt)
    if not hmac.compare_digest(keys.check, check):
        raise BackupError(
            f"{path} was made with another RAPPORT_BACKUP_KEY: set the key in use when the "
            "backup was made. Nothing was restored"
        )
    return flags, iv, keys, length


def _check_tag(path: Path, file: IO[bytes], mac: Any, length: int) -> None:
    file.seek(0)
    mac.update(file.read(HEADER.size))
    file.seek(HEADER.size + length)
    if not hmac.compare_digest(mac.digest(), file.read(TAG_BYTES)):
        raise BackupError(
            f"{path} was altered: its contents do not match its authentication code. "
            "Nothing was restored: use another copy of the backup"
        )


def _extract(opener: _Opener, into: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    allowed = {MANIFEST, *DUMPS.values()}
    try:
        with tarfile.open(fileobj=opener, mode="r|") as tar:
            for member in tar:
                if member.name not in allowed or not member.isfile() or member.name in found:
                    raise BackupError(f"{opener.path} holds an unexpected entry {member.name!r}")
                target = into / member.name
                with tar.extractfile(member) as source, open(target, "xb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
                found[member.name] = target
    except (tarfile.TarError, zlib.error) as exc:
        opener.drain()  # an altered file is reported as such, not as a broken archive
        raise BackupError(f"{opener.path}: the archive inside is damaged ({exc})") from exc
    return found


class _Sealer:
    """A write-only file object that compresses, encrypts and authenticates what it gets."""

    def __init__(self, file: IO[bytes], keys: _Keys, iv: bytes, *, compress: bool) -> None:
        self.file = file
        self.mac = hmac.new(keys.mac, digestmod=hashlib.sha256)
        self.cipher = Cipher(algorithms.AES(keys.cipher), modes.CTR(iv)).encryptor()
        self.zip = zlib.compressobj(1) if compress else None
        self.length = 0

    def write(self, data: bytes) -> int:
        self._emit(self.zip.compress(data) if self.zip else data)
        return len(data)

    def _emit(self, data: bytes) -> None:
        if data:
            sealed = self.cipher.update(data)
            self.file.write(sealed)
            self.mac.update(sealed)
            self.length += len(sealed)

    def finish(self) -> tuple[int, Any]:
        if self.zip:
            self._emit(self.zip.flush())
        self._emit(self.cipher.finalize())
        return self.length, self.mac


class _Opener:
    """A read-only file object over the payload: authenticates, decrypts, decompresses."""

    def __init__(
        self,
        path: Path,
        file: IO[bytes],
        keys: _Keys,
        iv: bytes,
        length: int,
        compressed: bool,
        progress: Progress,
    ) -> None:
        self.path, self.file, self.length, self.progress = path, file, length, progress
        self.mac = hmac.new(keys.mac, digestmod=hashlib.sha256)
        self.cipher = Cipher(algorithms.AES(keys.cipher), modes.CTR(iv)).decryptor()
        self.zip = zlib.decompressobj() if compressed else None
        self.done = 0
        self.buffer, self.offset = b"", 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            parts = [self.buffer[self.offset :]]
            while self.done < self.length:
                parts.append(self._next())
            self.buffer, self.offset = b"", 0
            return b"".join(parts)
        while self.offset >= len(self.buffer) and self.done < self.length:
            self.buffer, self.offset = self._next(), 0
        data = self.buffer[self.offset : self.offset + size]
        self.offset += len(data)
        return data

    def _next(self) -> bytes:
        sealed = self.file.read(min(CHUNK, self.length - self.done))
        if not sealed:
            raise BackupError(f"{self.path} became shorter while it was read")
        self.done += len(sealed)
        self.mac.update(sealed)
        plain = self.cipher.update(sealed)
        last = self.done == self.length
        if last:
            plain += self.cipher.finalize()
            _check_tag(self.path, self.file, self.mac, self.length)
        if self.zip:
            plain = self.zip.decompress(plain) + (self.zip.flush() if last else b"")
        self.progress(self.done >> 20, self.length >> 20)
        return plain

    def drain(self) -> None:
        while self.done < self.length:
            self._next()
        self.buffer, self.offset = b"", 0


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.position + size
        chunk = self.data[self.position : end]
        self.position += len(chunk)
        return chunk


class _Counting:
    def __init__(self, file: IO[bytes], progress: Callable[[int], None]) -> None:
        self.file, self.progress, self.done = file, progress, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.done += len(chunk)
        self.progress(self.done)
        return chunk


# --- Table checksums ----------------------------------------------------------------------


def table_checksums(database: Database, *, steps: Steps = quiet_steps) -> dict[str, dict]:
    """``{table: {"rows": n, "checksum": "sha256:…"}}`` for every table, from one snapshot."""
    if database.vendor == "sqlite":
        with contextlib.closing(_sqlite_connect(Path(database.settings["NAME"]))) as conn:
            conn.execute("BEGIN")
            try:
                return _sqlite_checksums(conn, steps)
            finally:
                conn.execute("COMMIT")
    with _postgres_snapshot(database) as conn:
        return _postgres_checksums(conn, steps)


def _digest(rows: Iterator[list[bytes]]) -> tuple[int, str]:
    """Rows (each already one canonical byte string) in key order → (count, checksum)."""
    digest, count = hashlib.sha256(), 0
    for batch in rows:
        digest.update(b"\n".join(batch) + b"\n")
        count += len(batch)
    return count, f"sha256:{digest.hexdigest()}"


# --- SQLite -------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    # Autocommit: transactions are begun and ended explicitly below.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.text_factory = bytes  # hash stored bytes as they are, valid UTF-8 or not
    return conn


def _sqlite_dump(database: Database, dump: Path, steps: Steps) -> dict:
    source_path = Path(database.settings["NAME"])
    try:
        _sqlite_copy(source_path, dump, steps)
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy the database {source_path}: {exc}") from exc
    with contextlib.closing(_sqlite_connect(dump)) as conn:
        _sqlite_integrity(conn, where=f"the database {source_path}")
        return {
            "server_version": sqlite3.sqlite_version,
            "migrations": _migrations(_sqlite_migration_rows(conn)),
            "tables": _sqlite_checksums(conn, steps),
        }


def _sqlite_copy(source_path: Path, dump: Path, steps: Steps) -> None:
    with (
        contextlib.closing(_sqlite_connect(source_path)) as source,
        contextlib.closing(sqlite3.connect(dump)) as copy,
    ):
        # The read transaction pins one snapshot (WAL): writers carry on, and the copy is
        # taken in steps without the restarts another connection's commits would cause
        # (measured: 44 steps instead of 35,000 with a writer committing all along).
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        pages = source.execute("PRAGMA page_count").fetchone()[0]
        with steps("copying the database", unit="pages") as progress:
            source.backup(
                copy,
                pages=max(256, pages // 100),
                progress=lambda status, remaining, total: progress(total - remaining, total),
            )
        source.execute("COMMIT")
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside


def _sqlite_integrity(conn: sqlite3.Connection, *, where: str) -> None:
    problems = [row[0].decode() for row in conn.execute("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise BackupError(f"{where} fails SQLite's integrity check: {'; '.join(problems[:3])}")


def _sqlite_migration_rows(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    try:
        rows = conn.execute("SELECT app, name FROM django_migrations").fetchall()
    except sqlite3.OperationalError:  # not a Django database (yet)
        return []
    return [(app.decode(), name.decode()) for app, name in rows]


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [name.decode() for (name,) in rows]


def _sqlite_checksums(conn: sqlite3.Connection, steps: Steps) -> dict[str, dict]:
    tables = _sqlite_tables(conn)
    result = {}
    with steps("checksumming tables", unit="tables") as progress:
        for done, table in enumerate(tables):
            result[table] = _sqlite_table_checksum(conn, table)
            progress(done + 1, len(tables))
    return result


def _sqlite_table_checksum(conn: sqlite3.Connection, table: str) -> dict:
    info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    columns = [_quote(row[1].decode()) for row in info]
    key = [_quote(row[1].decode()) for row in sorted(info, key=lambda row: row[5]) if row[5]]
    # quote() gives each value's SQL literal, which keeps its type (1, '1', X'31', NULL);
    # without a primary key, rows are ordered by that text itself.
    row_text = " || ',' || ".join(f"quote({column})" for column in columns)
    order = ", ".join(key) if key else "1"
    query = f"SELECT {row_text} FROM {_quote(table)} ORDER BY {order}"  # noqa: S608 (quoted names)
    cursor = conn.execute(query)
    rows, checksum = _digest(iter(lambda: [row[0] for row in cursor.fetchmany(5000)], []))
    return {"rows": rows, "checksum": checksum}


def _sqlite_is_empty(path: Path) -> list[str]:
    """The tables already in the SQLite database at ``path`` (none if there is no file)."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    with contextlib.closing(_sqlite_connect(path)) as conn:
        return _sqlite_tables(conn)


def _sqlite_restore(
    database: Database, dump: Path, manifest: dict, *, force: bool, steps: Steps
) -> None:
    target = Path(database.settings["NAME"])
    tables = _sqlite_is_empty(target)
    if tables and not force:
        raise BackupError(_not_empty(database, tables))
    # Everything is checked on the restored copy before the live file is touched.
    with contextlib.closing(_sqlite_connect(dump)) as conn:
        _sqlite_integrity(conn, where="the restored copy")
        conn.execute("BEGIN")
        _check_tables(manifest, _sqlite_checksums(conn, steps), where="the restored copy")
        conn.execute("COMMIT")
    # The online backup API in reverse replaces the target's contents in one write
    # transaction: other connections see the old database or the new one, and the WAL
    # and shared-memory files stay consistent, which renaming a file over it would not.
    try:
        with (
            contextlib.closing(sqlite3.connect(dump)) as source,
            contextlib.closing(sqlite3.connect(target, timeout=30)) as live,
            steps("replacing the database", unit="pages") as progress,
        ):
            source.backup(live, progress=lambda status, remaining, total: progress(total, total))
            live.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BackupError(
            f"could not replace {target}: {exc}. Stop the web server and the worker, then "
            "restore again"
        ) from exc
    with contextlib.closing(_sqlite_connect(target)) as conn:
        conn.execute("BEGIN")
        _check_tables(manifest, _sqlite_checksums(conn, steps), where=f"{target} after restore")
        conn.execute("COMMIT")


def _not_empty(database: Database, tables: list[str]) -> str:
    shown = ", ".join(tables[:3]) + (", …" if tables[3:] else "")
    return (
        f"the database {database.label} is not empty ({len(tables)} "
        f"table{'s' if len(tables) != 1 else ''}: {shown}); "
        "restoring would replace what it holds. Restore into an empty database, or pass "
        "--force to replace it (stop the web server and the worker first)"
    )


# --- PostgreSQL ---------------------------------------------------------------------------

# Row text depends on these session settings (dates, floats, bytea): fix them on both ends.
SESSION_SETTINGS = (
    "SET TIME ZONE 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
)
LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslpassword",
    "options",
    "application_name",
    "connect_timeout",
    "target_session_attrs",
    "service",
    "passfile",
    "channel_binding",
    "gssencmode",
}
USER_SCHEMAS = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
NOT_EXTENSION = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.oid AND d.deptype = 'e')"
)


def _pg_conninfo(database: Database, *, dbname: str | None = None) -> str:
    """Connection parameters without the password (which goes in PGPASSWORD)."""
    entry = database.settings
    params = {
        "dbname": dbname or entry.get("NAME"),
        "host": entry.get("HOST"),
        "port": entry.get("PORT"),
        "user": entry.get("USER"),
    }
    for name, value in (entry.get("OPTIONS") or {}).items():
        if name in LIBPQ_OPTIONS:
            params[name] = value
    return make_conninfo(**{name: str(value) for name, value in params.items() if value})


def pg_environment(database: Database) -> dict[str, str]:
    """The environment for pg_dump and pg_restore: the password, never on a command line."""
    environment = dict(os.environ)
    if database.settings.get("PASSWORD"):
        environment["PGPASSWORD"] = str(database.settings["PASSWORD"])
    return environment


def _pg_connect(database: Database, *, dbname: str | None = None) -> psycopg.Connection:
    conn = psycopg.connect(
        _pg_conninfo(database, dbname=dbname),
        password=database.settings.get("PASSWORD") or None,
        autocommit=True,
    )
    for statement in SESSION_SETTINGS:
        conn.execute(statement)
    return conn


@contextlib.contextmanager
def _postgres_snapshot(database: Database) -> Iterator[Any]:
    """A read-only REPEATABLE READ transaction: every query in it sees one snapshot."""
    with _pg_connect(database) as conn:
        conn.autocommit = False
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            yield conn
        finally:
            conn.rollback()


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest of Debian's PostgreSQL packages."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda tool: int(tool.parent.parent.name) if tool.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return str(versions[-1])
    raise BackupError(
        f"{name} was not found: install the PostgreSQL client programs of the server's "
        f"version or newer (Debian: apt-get install postgresql-client), or put {name} on PATH"
    )


def pg_dump_command(database: Database, *, snapshot: str, dump: Path) -> list[str]:
    return [
        pg_tool("pg_dump"),
        "--format=custom",
        f"--snapshot={snapshot}",
        "--lock-wait-timeout=60s",
        "--no-password",
        "--verbose",
        f"--file={dump}",
        f"--dbname={_pg_conninfo(database)}",
    ]


def pg_restore_command(database: Database, *, dump: Path) -> list[str]:
    return [
        pg_tool("pg_restore"),
        "--exit-on-error",
        "--no-owner",
        "--single-transaction",
        "--no-password",
        "--verbose",
        f"--dbname={_pg_conninfo(database)}",
        str(dump),
    ]


def _run_pg_tool(command: list[str], database: Database, *, marker: str, total: int, steps: Steps):
    """Run pg_dump/pg_restore, counting ``marker`` lines of its --verbose output as progress."""
    name = Path(command[0]).name
    tail: list[str] = []
    with (
        steps(f"{name}", unit="tables") as progress,
        subprocess.Popen(
            command,
            env=pg_environment(database),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        ) as process,
    ):
        done = 0
        for line in process.stderr:
            if marker in line:
                done += 1
                progress(done, total)
            elif line.startswith((f"{name}: error", f"{name}: warning")) or tail:
                tail.append(line.strip())
        code = process.wait()
    if code != 0:
        detail = " | ".join(tail[-6:]) or f"exit status {code}"
        raise BackupError(f"{name} failed on {database.label}: {detail}")


def _postgres_dump(database: Database, dump: Path, steps: Steps) -> dict:
    with _postgres_snapshot(database) as conn:
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables = _postgres_tables(conn)
        # pg_dump imports this transaction's snapshot: the dump and the checksums below
        # see the same rows whatever the web server and worker write meanwhile.
        _run_pg_tool(
            pg_dump_command(database, snapshot=snapshot, dump=dump),
            database,
            marker="dumping contents of table",
            total=len(tables),
            steps=steps,
        )
        migrations = (
            conn.execute("SELECT app, name FROM django_migrations").fetchall()
            if _postgres_has_table(conn, "django_migrations")
            else []
        )
        return {
            "server_version": conn.execute("SHOW server_version").fetchone()[0],
            "pg_dump_version": _tool_version("pg_dump"),
            "migrations": _migrations(migrations),
            "tables": _postgres_checksums(conn, steps),
        }


def _tool_version(name: str) -> str:
    result = subprocess.run(
        [pg_tool(name), "--version"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def _postgres_has_table(conn: Any, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()[0]


def _postgres_tables(conn: Any) -> list[tuple[str, str, list[str]]]:
    """(schema, table, primary key columns) for every table of the database's own schemas."""
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname, coalesce((
            SELECT array_agg(a.attname::text ORDER BY k.position)
            FROM pg_index i
            CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = c.oid AND i.indisprimary
        ), '{{}}')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND {USER_SCHEMAS} AND {NOT_EXTENSION}
        ORDER BY n.nspname, c.relname
        """  # noqa: S608 (constant SQL)
    ).fetchall()
    return [(schema, table, list(key)) for schema, table, key in rows]


def _postgres_checksums(conn: Any, steps: Steps) -> dict[str, dict]:
    tables = _postgres_tables(conn)
    result = {}
    with steps("checksumming tables", unit="tables") as progress:
        for done, (schema, table, key) in enumerate(tables):
            # md5 of each row's text in key order (rows without a key: in md5 order),
            # hashed again here so no table is too large for one aggregate.
            order = (
                sql.SQL(", ").join(sql.SQL("rapport_row.{}").format(sql.Identifier(c)) for c in key)
                if key
                else sql.SQL("1")
            )
            query = sql.SQL("SELECT md5(rapport_row::text) FROM {}.{} AS rapport_row ORDER BY {}")
            with conn.cursor(name="rapport_backup_checksum") as cursor:
                cursor.execute(query.format(sql.Identifier(schema), sql.Identifier(table), order))
                batches = iter(lambda: [row[0].encode() for row in cursor.fetchmany(5000)], [])
                rows, checksum = _digest(batches)
            name = table if schema == "public" else f"{schema}.{table}"
            result[name] = {"rows": rows, "checksum": checksum}
            progress(done + 1, len(tables))
    return result


def _postgres_relations(conn: Any) -> list[str]:
    rows = conn.execute(
        f"""
        SELECT CASE WHEN n.nspname = 'public' THEN c.relname
               ELSE n.nspname || '.' || c.relname END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {USER_SCHEMAS} AND {NOT_EXTENSION}
        ORDER BY 1
        """  # noqa: S608 (constant SQL)
    ).fetchall()
    return [name for (name,) in rows]


def _postgres_clean(conn: Any) -> None:
    """Drop everything in the database's own schemas: a fresh database's public schema."""
    schemas = [
        name
        for (name,) in conn.execute(
            f"SELECT n.nspname FROM pg_namespace n WHERE {USER_SCHEMAS}"  # noqa: S608
        ).fetchall()
    ]
    version = conn.info.server_version
    try:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '10s'")
            for schema in schemas:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            if version >= 150000:
                conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
                conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
            else:
                conn.execute("CREATE SCHEMA public")
                conn.execute("GRANT ALL ON SCHEMA public TO PUBLIC")
            conn.execute("COMMENT ON SCHEMA public IS 'standard public schema'")
    except errors.LockNotAvailable as exc:
        raise BackupError(
            "the database is in use (a lock was not granted in 10 s): stop the web server "
            "and the worker, then restore again"
        ) from exc


def _postgres_restore(
    database: Database, dump: Path, manifest: dict, *, force: bool, steps: Steps
) -> None:
    with _pg_connect(database) as conn:
        relations = _postgres_relations(conn)
        if relations and not force:
            raise BackupError(_not_empty(database, relations))
        if relations:
            _postgres_clean(conn)
    try:
        _run_pg_tool(
            pg_restore_command(database, dump=dump),
            database,
            marker="processing data for table",
            total=len(manifest["tables"]),
            steps=steps,
        )
    except BackupError as exc:
        emptied = " (it was emptied first, as --force asked)" if relations else ""
        raise BackupError(f"{exc}. Nothing was restored into {database.label}{emptied}") from exc
    with _postgres_snapshot(database) as conn:
        found = _postgres_checksums(conn, steps)
    _check_tables(manifest, found, where=f"{database.label} after restore")
    with _pg_connect(database) as conn:
        conn.execute("ANALYZE")  # pg_restore leaves the planner without statistics
