"""Planning a query in the order its joins are written.

PostgreSQL searches the join orders of a query for the cheapest; for a row fetched by a
unique key with many related rows joined by primary key (the staff issue page joins ten
tables), that search costs ten times what running the query does (6–8 ms of planning
against 0.4 ms of execution on the benchmark city), while the written order, the row
first and then each join by key, is already the best. ``in_written_order`` writes the
query between statements that set ``join_collapse_limit`` and ``from_collapse_limit`` to 1
and reset them, on PostgreSQL; elsewhere it leaves the query as it is.

The three go to the server as one string, in one round trip (psycopg binds parameters on
the client, so one query string may hold several statements), and PostgreSQL runs such a
string as one transaction unless it is inside one already: if the query fails, its
settings are undone with it, and the next query of the connection is planned as usual.
"""

from __future__ import annotations

SETTINGS = ("join_collapse_limit", "from_collapse_limit")


def in_written_order(sql: str, vendor: str) -> tuple[str, int]:
    """``sql`` to be planned in its written join order, and how many results come before
    the query's own (move the cursor on past them with ``nextset()``)."""
    if vendor != "postgresql":
        return sql, 0
    before = "; ".join(f"SET {name} = 1" for name in SETTINGS)
    after = "; ".join(f"RESET {name}" for name in SETTINGS)
    return f"{before}; {sql}; {after}", len(SETTINGS)
