"""Fills a freshly bootstrapped Keystone (`keystone-manage bootstrap` made the admin user,
project and roles and the identity endpoint): the service catalog, the project `prod` and its
user `protector`, and the `service` role the services' own user needs.

usage: python -m protector_real_os.identity --auth-url URL --admin-password PW \
           --user protector --password PW --project prod --roles admin,member \
           --endpoint TYPE=NAME=URL ...

Every endpoint is registered for the public and internal interfaces of RegionOne."""
import argparse
import sys

import openstack

REGION = 'RegionOne'


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--auth-url', required=True)
    parser.add_argument('--admin-password', required=True)
    parser.add_argument('--user', required=True)
    parser.add_argument('--password', required=True)
    parser.add_argument('--project', required=True)
    parser.add_argument('--roles', required=True)
    parser.add_argument('--endpoint', action='append', default=[])
    args = parser.parse_args(argv)

    conn = openstack.connect(
        auth_url=args.auth_url, username='admin', password=args.admin_password,
        project_name='admin', user_domain_id='default', project_domain_id='default',
        region_name=REGION, identity_api_version='3')
    identity = conn.identity

    for spec in args.endpoint:
        service_type, name, url = spec.split('=', 2)
        service = identity.create_service(name=name, type=service_type, is_enabled=True)
        for interface in ('public', 'internal'):
            identity.create_endpoint(service_id=service.id, interface=interface, url=url,
                                     region_id=REGION)

    roles = {role.name: role for role in identity.roles()}
    # Nova sends Cinder and Neutron a service token: its user (here `admin`) needs `service`.
    if 'service' not in roles:
        roles['service'] = identity.create_role(name='service')
    admin = identity.find_user('admin', domain_id='default', ignore_missing=False)
    admin_project = identity.find_project('admin', domain_id='default', ignore_missing=False)
    identity.assign_project_role_to_user(admin_project, admin, roles['service'])

    project = identity.create_project(name=args.project, domain_id='default',
                                      description='tests/real-openstack')
    user = identity.create_user(name=args.user, password=args.password, domain_id='default',
                                default_project_id=project.id)
    for role_name in args.roles.split(','):
        identity.assign_project_role_to_user(project, user, roles[role_name])
    print('identity: %d services, project %s, user %s (%s)'
          % (len(args.endpoint), args.project, args.user, args.roles))


if __name__ == '__main__':
    main(sys.argv[1:])
