"""Creates Neutron's schema in a sqlite file from its models: `neutron-db-manage upgrade heads`
fails on sqlite ("No support for ALTER of constraints in SQLite dialect").

usage: python -m protector_real_os.neutron_schema DB_FILE"""
import sys

import sqlalchemy
from neutron.db.migration.models import head


def main(path):
    engine = sqlalchemy.create_engine('sqlite:///' + path)
    metadata = head.get_metadata()
    metadata.create_all(engine)
    print('neutron schema: %d tables in %s' % (len(metadata.tables), path))


if __name__ == '__main__':
    main(sys.argv[1])
