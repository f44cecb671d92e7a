"""Locust suites for `mwsync loadtest` (installed as `mwsync.loadtests`): `locustfile` holds the users,
`support` what they need besides Locust. `mwsync loadtest --locustfile` prints the locustfile's path for
running Locust by hand."""
