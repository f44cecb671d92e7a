"""The published schemas, shipped as package data of `mwsync.schema`: `job.schema.json` (job files, from
`mwsync schema`). Read them with `importlib.resources.files("mwsync.schema")`."""
