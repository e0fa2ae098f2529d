"""Stores built once per test session and copied for each test that needs one.

Building a store (importing a portfolio, say) costs seconds each time; a copy costs a moment. A
SQLite template is a folder (the store file, its write-ahead log and the home's key files)
copied whole into the test's own folder; the pytest-xdist workers of one run share them (the
first to need one builds it, under a lock, the others wait for it and copy). A PostgreSQL
template is a database on the loopback server, copied by the server itself (``CREATE DATABASE
... TEMPLATE``); each copy is dropped when its test ends, the templates when the session does.
"""

from __future__ import annotations

import fcntl
import itertools
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

# (store URL, home folder): fills an empty store, as a test's fixture would have.
Build = Callable[[str, Path], object]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlalchemy(url: URL, database: str) -> str:
    return url.set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` (made if absent) against the other processes."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class StoreTemplates:
    """The session's templates, under ``root`` (one folder each), the SQLite ones under
    ``shared`` when given (a folder the run's workers share); PostgreSQL databases are made and
    dropped through ``admin`` (the server's maintenance database: the session's own database may
    be gone when the templates are dropped)."""

    def __init__(self, root: Path, admin: URL, shared: Path | None = None) -> None:
        self.root = root
        self.shared = shared or root
        self.admin = _libpq(admin)
        self._sqlite: set[str] = set()
        self._postgres: dict[str, str] = {}  # name → template database
        self._numbers = itertools.count(1)

    def sqlite_copy(self, name: str, build: Build, home: Path) -> str:
        """A copy of template ``name`` (built by ``build`` by the first process that needs
        it) in ``home``: the store is ``home/store.db``; the home's other files (its keys)
        come along."""
        template = self._folder(self.shared / "sqlite", name)
        if name not in self._sqlite:
            built = template.with_name(f"{name}.built")
            with _locked(template.with_name(f"{name}.lock")):
                if not built.exists():
                    # A build that failed part way left its files: start from an empty folder.
                    shutil.rmtree(template)
                    template.mkdir()
                    build(f"sqlite:///{template / 'store.db'}", template)
                    built.touch()
            self._sqlite.add(name)
        shutil.copytree(template, home, dirs_exist_ok=True)
        return f"sqlite:///{home / 'store.db'}"

    def postgres_copy(self, name: str, build: Build, home: Path, session: URL) -> str:
        """A database copied from template ``name`` (named after the session's database
        ``session``), its home's files copied into ``home``; drop it with ``drop``."""
        import psycopg

        template = self._postgres.get(name)
        if template is None:
            template = f"{session.database}_t_{name}"
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{template}"')
            self._postgres[name] = template
            build(_sqlalchemy(session, template), self._home(name, "postgresql"))
        shutil.copytree(self._home(name, "postgresql"), home, dirs_exist_ok=True)
        copy = f"{session.database}_c{next(self._numbers)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            # A template takes no connections while it is copied: the build's pools are gone,
            # but a connection left open by it would fail the copy.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (template,),
            )
            conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
        return _sqlalchemy(session, copy)

    def drop(self, url: str) -> None:
        """Drop a PostgreSQL copy (its test's connections closed by force)."""
        from sqlalchemy.engine import make_url

        self._drop([str(make_url(url).database)])

    def close(self) -> None:
        """Drop the PostgreSQL templates."""
        self._drop(list(self._postgres.values()))

    def _drop(self, databases: list[str]) -> None:
        if not databases:
            return
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _home(self, name: str, kind: str) -> Path:
        return self._folder(self.root / kind, name)

    @staticmethod
    def _folder(parent: Path, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"a template's name is a short identifier, not {name!r}")
        folder = parent / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder
