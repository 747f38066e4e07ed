"""The sessions table of :class:`~flask_koasession.stores.SQLAlchemyStore`
and the statements that read and write it.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def define_table(name: str, metadata: sa.MetaData) -> sa.Table:
    """The table ``name``: one row a session."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=True, index=True),
    )


#: Dialects that have a one-statement upsert (``INSERT ... ON CONFLICT DO
#: UPDATE``) in SQLAlchemy.
NATIVE_UPSERT = frozenset(("sqlite", "postgresql"))

#: Dialects on which a conditional save is one statement whatever it finds:
#: an ``UPDATE`` of the live row, ``RETURNING`` what stopped it.
SINGLE_STATEMENT_SWAP = frozenset(("postgresql",))


class Statements:
    """The read and the writes of a store on one database, built once with
    bound parameters (``key``, ``now``, ``expected``, ``text``,
    ``deadline``). What the database can do is settled here, once: where
    :attr:`write`, :attr:`create` or :attr:`swap` is ``None`` the store runs
    the portable statements instead.

    Building a statement and its cache key on every call cost more than
    running it: 125 µs for the conditional ``INSERT``, which PostgreSQL ran
    in 620 µs on the benchmark machine.

    :param dialect: the engine's dialect name (``engine.dialect.name``).
    :param native_upsert: use ``INSERT ... ON CONFLICT DO UPDATE``; only for
        a dialect of :data:`NATIVE_UPSERT`.
    :param single_statement_swap: use the one-statement conditional save;
        only for a dialect of :data:`SINGLE_STATEMENT_SWAP`.
    :raise ValueError: when asked for a statement the dialect does not have.
    """

    def __init__(
        self,
        table: sa.Table,
        dialect: str,
        *,
        native_upsert: bool,
        single_statement_swap: bool,
    ) -> None:
        for wanted, name, dialects in (
            (native_upsert, "native_upsert_dialects", NATIVE_UPSERT),
            (
                single_statement_swap,
                "single_statement_swap_dialects",
                SINGLE_STATEMENT_SWAP,
            ),
        ):
            if wanted and dialect not in dialects:
                have = " and ".join(map(repr, sorted(dialects)))
                raise ValueError(
                    f"SQLAlchemyStore.{name} names {dialect!r}, but that"
                    f" statement exists only for {have}: leave {dialect!r} out."
                )
        columns = table.c
        stored: sa.ColumnElement[t.Any] = columns.data
        #: Whether the text is read, and so compared, as bytes.
        self.reads_bytes = dialect == "sqlite"
        if self.reads_bytes:
            # SQLite keeps whatever bytes were written into a TEXT column, and
            # sqlite3 fails on reading text that is not UTF-8: read bytes,
            # which decode_payload decodes leniently, so such a row is no
            # session rather than an error on every request with its id.
            stored = sa.cast(stored, sa.LargeBinary)
        now: sa.BindParameter[float] = sa.bindparam("now")
        this_row = columns.id == sa.bindparam("key")
        live = sa.or_(columns.expires_at.is_(None), columns.expires_at > now)
        expired = sa.and_(columns.expires_at.is_not(None), columns.expires_at <= now)
        unchanged = sa.and_(
            this_row, stored == sa.bindparam("expected", type_=stored.type), live
        )
        row: dict[str, sa.BindParameter[t.Any]] = {
            "id": sa.bindparam("key"),
            "data": sa.bindparam("text"),
            "expires_at": sa.bindparam("deadline"),
        }
        new_values: dict[str, sa.BindParameter[t.Any]] = {
            "data": sa.bindparam("text"),
            "expires_at": sa.bindparam("deadline"),
        }
        #: The text of the live row.
        self.read = sa.select(stored).where(this_row, live)
        #: Write the row if it is live and unchanged. The compare and the
        #: write are one step: an ``UPDATE`` that meets a row being changed
        #: waits for the commit and checks its ``WHERE`` again.
        self.replace = sa.update(table).where(unchanged).values(new_values)
        #: Delete the row if it is live and unchanged.
        self.delete = sa.delete(table).where(unchanged)
        #: Replace the live row if unchanged, in one statement that returns
        #: NULL when the row holds the new text and the row's text when it
        #: was changed; no row when none is live. (PostgreSQL evaluates the
        #: ``SET`` expressions on the row before the update, ``RETURNING``
        #: on the row after it: the row it locked, as it is now, not as the
        #: statement's snapshot had it.) ``None``: :attr:`replace`, then
        #: :attr:`read` when it replaced nothing.
        self.swap: sa.Executable | None = None
        if single_statement_swap:
            text = sa.bindparam("text", type_=sa.Text)
            same = columns.data == sa.bindparam("expected", type_=sa.Text)
            self.swap = (
                sa.update(table)
                .where(this_row, live)
                .values(
                    data=sa.case((same, text), else_=columns.data),
                    expires_at=sa.case(
                        (same, sa.bindparam("deadline", type_=sa.Double)),
                        else_=columns.expires_at,
                    ),
                )
                .returning(sa.case((columns.data == text, sa.null()), else_=stored))
            )
        #: Write the row whatever it holds, in one statement. ``None``:
        #: :attr:`update`, then :attr:`insert` when no row matched.
        self.write: sa.Executable | None = None
        #: Create a row where there is none, or only an expired one, in one
        #: statement. ``None``: :attr:`delete_expired`, then :attr:`insert`.
        self.create: sa.Executable | None = None
        #: Whether :attr:`create` says with a returned row that it created.
        self.create_returns = dialect == "postgresql"
        if native_upsert:
            self.write = upsert(table, dialect, row)
            create = upsert(table, dialect, row, where=expired)
            # RETURNING on PostgreSQL: SQLAlchemy keeps no rowcount of an
            # INSERT with psycopg.
            self.create = (
                create.returning(columns.id) if self.create_returns else create
            )
        #: The portable statements.
        self.update = sa.update(table).where(this_row).values(new_values)
        self.delete_expired = sa.delete(table).where(this_row, expired)
        self.insert = sa.insert(table).values(row)


def upsert(
    table: sa.Table,
    dialect: str,
    row: t.Mapping[str, t.Any],
    *,
    where: sa.ColumnElement[bool] | None = None,
) -> sa.Insert:
    """``INSERT`` the row, or ``UPDATE`` the row with its id (only if
    ``where`` holds), in one statement: SQLite's and PostgreSQL's
    ``ON CONFLICT DO UPDATE``."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        table
    ).values(row)
    return insert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={
            "data": insert.excluded.data,
            "expires_at": insert.excluded.expires_at,
        },
        where=where,
    )


# -- the user index (SessionIndex) ----------------------------------------------


def define_index_table(
    name: str, metadata: sa.MetaData, schema: str | None = None
) -> sa.Table:
    """The table ``name`` of the user index: one row a session handle.

    ``record`` is the record's JSON text while the session is active; an
    ended row (``ended`` true) keeps no record: ``NULL``, or ``""`` when the
    session was active as it ended (how the one statement that ends it
    tells). ``expires_at``: seconds since the epoch when the row stops
    counting (the record's end, or the end of the memory that the handle
    ended), ``NULL`` for never.
    """
    return sa.Table(
        name,
        metadata,
        sa.Column("handle", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False, index=True),
        sa.Column("record", sa.Text, nullable=True),
        sa.Column("expires_at", sa.Double, nullable=True, index=True),
        sa.Column("ended", sa.Boolean, nullable=False),
        schema=schema,
    )


class IndexStatements:
    """The statements of the user index, built once with bound parameters
    (``key``: the handle, ``user``, ``text``: the record's JSON, ``deadline``,
    ``now``, and ``flag``: the ``ended`` of a row inserted by the portable
    statements).

    With ``native`` (SQLite 3.35 or later, PostgreSQL: an upsert with
    ``RETURNING``) each operation is one statement: :attr:`index` and
    :attr:`end`. Otherwise they are ``None`` and the store runs the portable
    statements, an ``UPDATE`` then an ``INSERT`` when no row matched.
    """

    def __init__(self, table: sa.Table, dialect: str, *, native: bool) -> None:
        columns = table.c
        now: sa.BindParameter[float] = sa.bindparam("now")
        this_row = columns.handle == sa.bindparam("key")
        live = sa.or_(columns.expires_at.is_(None), columns.expires_at > now)
        expired = sa.and_(columns.expires_at.is_not(None), columns.expires_at <= now)
        #: Active for the user: indexed under them, not ended, not expired.
        active = sa.and_(
            columns.user_id == sa.bindparam("user"), sa.not_(columns.ended), live
        )
        #: May be indexed: not ended, or ended so long ago that it is
        #: forgotten.
        indexable = sa.or_(sa.not_(columns.ended), expired)
        indexed: dict[str, t.Any] = {
            "user_id": sa.bindparam("user"),
            "record": sa.bindparam("text"),
            "expires_at": sa.bindparam("deadline"),
            "ended": sa.false(),
        }
        ended: dict[str, t.Any] = {
            "user_id": sa.bindparam("user"),
            "record": sa.null(),
            "expires_at": sa.bindparam("deadline"),
            "ended": sa.true(),
        }
        #: The user of the active row of a handle.
        self.user_of = sa.select(columns.user_id).where(
            this_row, sa.not_(columns.ended), live
        )
        #: The handles and records of the active rows of a user.
        self.sessions = sa.select(columns.handle, columns.record).where(active)
        #: The rows expired by ``now``.
        self.delete_expired = sa.delete(table).where(expired)

        #: Insert the row, or replace it unless it is ended (and not
        #: expired); ``RETURNING`` a row when it did. ``None``: portable.
        self.index: sa.Executable | None = None
        #: Insert or replace the row as ended, ``RETURNING`` its record: ``""``
        #: when the row was active for the user, ``NULL`` when not. (The
        #: ``SET`` expressions read the row before the update, ``RETURNING``
        #: the row after it.) ``None``: portable.
        self.end: sa.Executable | None = None
        if native:
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
                table
            )
            index = insert.values(handle=sa.bindparam("key"), **indexed)
            self.index = index.on_conflict_do_update(
                index_elements=[columns.handle],
                set_={name: index.excluded[name] for name in indexed},
                where=indexable,
            ).returning(columns.handle)
            end = insert.values(handle=sa.bindparam("key"), **ended)
            self.end = end.on_conflict_do_update(
                index_elements=[columns.handle],
                set_={
                    "user_id": end.excluded.user_id,
                    "record": sa.case((active, sa.literal("")), else_=sa.null()),
                    "expires_at": end.excluded.expires_at,
                    "ended": sa.true(),
                },
            ).returning(columns.record)

        #: The portable statements: replace the row unless ended; end the
        #: row if active for the user (its record ``""``); end it whatever
        #: it was; insert a row.
        self.update_indexed = (
            sa.update(table).where(this_row, indexable).values(indexed)
        )
        self.end_active = (
            sa.update(table)
            .where(this_row, active)
            .values({**ended, "record": sa.literal("")})
        )
        self.end_any = sa.update(table).where(this_row).values(ended)
        self.insert = sa.insert(table).values(
            handle=sa.bindparam("key"),
            user_id=sa.bindparam("user"),
            record=sa.bindparam("text"),
            expires_at=sa.bindparam("deadline"),
            ended=sa.bindparam("flag"),
        )
