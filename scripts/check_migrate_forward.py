"""Check that a database made by an older version of the project migrates forward with every row kept.

    python scripts/check_migrate_forward.py [--base REV] [--database-url URL]

It exports REV (default: the last commit before the analysis app was split into taxonomy and results) with
``git archive``, runs that version's demo pipeline (``scripts/demo.py --no-serve``: users, the sample import,
extraction from recorded responses, the Label Studio review loop with the example reviews, an agreement snapshot,
a taxonomy, residuals and descriptive results) against the database, counts the rows of every table, migrates the
database with this version, and counts again. It exits 1 when a table of the old database is gone or has fewer rows.

The database is made anew: a SQLite file in a temporary directory by default, or the PostgreSQL database named in
``--database-url`` (dropped and created; never point it at a database you keep).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BEFORE_SPLIT = "3cabd89"  # main before taxonomy/results left analysis (and before the workbench app)
# Tables whose rows a migration may add to, never remove from.
GROWING = {"django_migrations", "django_content_type", "auth_permission"}

COUNT_ROWS = """
import json
from django.db import connection
with connection.cursor() as cursor:
    counts = {}
    for table in connection.introspection.table_names(cursor):
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
print(json.dumps(counts))
"""

READ_MOVED = """
import json
from results.models import ResidualAnalysis, ResidualCell
from taxonomy.models import Taxonomy, TaxonomyEdit, TaxonomyNode, ValueMapping
models = (Taxonomy, TaxonomyNode, TaxonomyEdit, ValueMapping, ResidualAnalysis, ResidualCell)
print(json.dumps({m._meta.db_table: m.objects.count() for m in models}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _export(rev: str, to: Path) -> None:
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(to, filter="data")
    # The old version reuses this checkout's Label Studio virtualenv (installed by scripts/labelstudio.sh).
    (to / "var").mkdir(exist_ok=True)
    venv = ROOT / "var" / "labelstudio-venv"
    if venv.exists():
        (to / "var" / "labelstudio-venv").symlink_to(venv)


def _recreate_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _django(tree: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} in {tree} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def check(*, base: str, database_url: str | None, work: Path) -> list[str]:
    """Run the old demo, migrate with this version; return the problems found (empty when every row was kept)."""
    old = work / "old"
    old.mkdir()
    _export(base, old)
    url = database_url or f"sqlite:///{work / 'db.sqlite3'}"
    if url.startswith("postgres"):
        _recreate_postgres(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "HF_HUB_OFFLINE": "1",
        "LABEL_STUDIO_DATA_DIR": str(work / "labelstudio"),
        "LABEL_STUDIO_PORT": str(_free_port()),
    }
    env.pop("LABEL_STUDIO_URL", None)
    demo = _django(old, env, "scripts/demo.py", "--no-serve")
    try:
        before = json.loads(_django(ROOT, env, "manage.py", "shell", "-c", COUNT_ROWS).strip().splitlines()[-1])
        _django(ROOT, env, "manage.py", "migrate", "--no-input")
        after = json.loads(_django(ROOT, env, "manage.py", "shell", "-c", COUNT_ROWS).strip().splitlines()[-1])
        moved = json.loads(_django(ROOT, env, "manage.py", "shell", "-c", READ_MOVED).strip().splitlines()[-1])
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "labelstudio.sh"), "stop"], env=env, capture_output=True, check=False
        )
    problems = [
        f"{table}: {n} rows before, {after.get(table, 'table gone')} after"
        for table, n in before.items()
        if table not in after or (after[table] < n if table in GROWING else after[table] != n)
    ]
    problems += [
        f"{table}: {n} rows read through the new models, {before.get(table)} in the table"
        for table, n in moved.items()
        if before.get(table) != n
    ]
    if not before.get("annotate_annotation"):
        problems.append(f"the old demo wrote no review (its output ends: {demo[-500:]!r})")
    summary = ", ".join(
        f"{t}={before[t]}" for t in sorted(before) if before[t] and not t.startswith(("django", "auth"))
    )
    print(f"{url.split('@')[-1]}: {len(before)} tables, rows kept: {summary}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=BEFORE_SPLIT, help="the older version (a git revision)")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL database to make anew (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migrate-forward-") as tmp:
        problems = check(base=args.base, database_url=args.database_url, work=Path(tmp))
    if problems:
        print("\n".join(["rows lost in the migration:", *problems]), file=sys.stderr)
        raise SystemExit(1)
    print("every row kept")


if __name__ == "__main__":
    main()
