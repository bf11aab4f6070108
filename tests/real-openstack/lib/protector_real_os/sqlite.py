"""Makes the services' sqlite databases bear the harness's light concurrency.

oslo.db opens every sqlite transaction with a plain (deferred) BEGIN. When two threads of one
service both read and then write, the second upgrade from reader to writer fails at once with
"database is locked" (SQLite's deadlock avoidance ignores the busy timeout there); Nova's
compute thread lost instance builds that way ("Instance failed network setup ... database is
locked"). Here every transaction starts with BEGIN IMMEDIATE, so writers queue on the busy
timeout (`?timeout=30` in the connection URL) instead. And the database files use WAL
(`python -m protector_real_os.sqlite DB_FILE...` once, before the services start), so readers
never block the writer.

Call install() before the service creates its engines."""
import sqlite3
import sys

import sqlalchemy
from oslo_db.sqlalchemy import engines


def _tune(engine):
    # replaces oslo.db's own `begin` listener, which emits a plain BEGIN
    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__name__', '') == '_sqlite_emit_begin':
            sqlalchemy.event.remove(engine, 'begin', listener)

    @sqlalchemy.event.listens_for(engine, 'begin')
    def _begin_immediate(conn):
        if 'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True


def install():
    if getattr(engines, '_protector_real_os_sqlite', False):
        return
    create_engine = engines.create_engine

    def create(*args, **kwargs):
        engine = create_engine(*args, **kwargs)
        if engine.dialect.name == 'sqlite':
            _tune(engine)
        return engine

    engines.create_engine = create
    engines._protector_real_os_sqlite = True


def main(paths):
    for path in paths:
        with sqlite3.connect(path) as db:
            mode = db.execute('PRAGMA journal_mode=WAL').fetchone()[0]
        print('%s: journal_mode=%s' % (path, mode))


if __name__ == '__main__':
    main(sys.argv[1:])
