"""Serves one WSGI-only service (keystone, placement or neutron) in ONE process: a threaded
wsgiref server on 127.0.0.1:PORT, access log on stderr (lighter than gunicorn, whose master
process comes on top of its worker), the application from protector_real_os.wsgi.

usage: python -m protector_real_os.serve SERVICE PORT
Each service finds its configuration through its own variables (OS_KEYSTONE_CONFIG_FILES,
OS_PLACEMENT_CONFIG_DIR, OS_NEUTRON_CONFIG_DIR + OS_NEUTRON_CONFIG_FILES)."""
import os
import socketserver
import sys
from wsgiref import simple_server


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def main(service, port):
    os.environ['PROTECTOR_REAL_OS_WSGI'] = service
    sys.argv = sys.argv[:1]
    from protector_real_os.wsgi import application
    httpd = simple_server.make_server('127.0.0.1', port, application, server_class=_Server)
    print('%s serving on 127.0.0.1:%d' % (service, port), file=sys.stderr, flush=True)
    httpd.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
