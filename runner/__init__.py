"""mwsync: send outbound messages to the Moveworks Events API from version-controlled YAML jobs.

The pipeline, one stage per module (data flows one way)::

    job YAML -> config (validated, typed) -> sources (rows) -> templates (Jinja) -> plan (limits,
    chunking, coalescing) -> client (auth + throttle + retry, one requests session) -> journal -> report
"""

__version__ = "0.1.0"
