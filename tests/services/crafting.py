"""Editing a project file as the author of a crafted one would: SQL straight into the file,
the schema (and so its triggers) kept exactly as shipped."""

import sqlite3


def with_triggers_lifted(path, statements) -> None:
    """Run ``(sql, params)`` pairs in one transaction, the file's triggers dropped around them
    and put back as they were."""
    conn = sqlite3.connect(path)
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    with conn:
        for name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        for sql, params in statements:
            conn.execute(sql, params)
        for _, sql in triggers:
            conn.execute(sql)
    conn.close()
