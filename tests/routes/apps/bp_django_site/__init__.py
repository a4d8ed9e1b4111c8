"""A small real Django project for the route inventory tests (run in subprocesses: Django can be
configured once per process)."""
