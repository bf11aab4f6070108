"""`neutron-db-manage` (the real one, Neutron's own alembic migrations) on PostgreSQL.

Neutron 29's migration d553edeb540f ("tag case sensitive", 2025.2) runs MySQL-only SQL
unconditionally: `ALTER TABLE tags CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`, which
PostgreSQL rejects as a syntax error (the migration only tolerates MySQL's "Unknown collation").
Its purpose, case-sensitive tag comparison, is PostgreSQL's default already, so on PostgreSQL
those two statements are skipped, and nothing else: every other migration runs as is.
(tests/real-openstack/DIFFERENCES.md)

usage: python -m protector_real_os.neutron_db NEUTRON-DB-MANAGE-ARGUMENTS...
       (e.g. --config-file neutron.conf --config-file ml2.ini upgrade heads)"""
import sys

from alembic.operations import Operations

_MYSQL_ONLY = ('ALTER TABLE tags CONVERT TO CHARACTER SET utf8mb4',
               'ALTER TABLE tags CHARACTER SET utf8mb4')


def install():
    execute = Operations.execute

    def guarded(self, sqltext, *args, **kwargs):
        if (isinstance(sqltext, str) and sqltext.startswith(_MYSQL_ONLY)
                and self.get_context().dialect.name == 'postgresql'):
            print('skipped on PostgreSQL (MySQL only): %s' % sqltext, flush=True)
            return None
        return execute(self, sqltext, *args, **kwargs)

    Operations.execute = guarded


def main():
    install()
    from neutron.db.migration import cli
    sys.argv[0] = 'neutron-db-manage'
    return cli.main()


if __name__ == '__main__':
    sys.exit(main())
