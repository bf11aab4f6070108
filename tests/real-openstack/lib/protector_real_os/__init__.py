"""The Python half of tests/real-openstack: the glue that runs real OpenStack services from
PyPI on loopback (all-in-one service processes, WSGI shims, an ML2 driver that binds every
port, a small Cinder driver for the twin's FlashArray) and the seed and check steps.

Nothing here is installed into the venv: the harness puts this directory on PYTHONPATH, and the
`protector_real_os-0.dist-info` beside it registers the ML2 driver's entry point from there."""
