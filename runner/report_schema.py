"""The JSON Schema (draft 2020-12) of the `--report` document, published as `schema/report.schema.json`
(`mwsync schema report`; `make schema` regenerates it, a test checks the published file is current).

The envelope `{"mwsync", "exit_code", "error", "jobs"}` is the one of every JSON document mwsync writes;
`jobs` items of `--report` are `$defs/run_job`, those of `plan`, `validate`, `status`, `preview` and
`check --json` are `$defs/<command>_job`: validate one with `{"$ref": "report.schema.json#/$defs/plan_job"}`.
"""

from __future__ import annotations

from typing import Any

INT = {"type": "integer", "minimum": 0}
NUMBER = {"type": "number", "minimum": 0}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
EXIT = {"type": "integer", "enum": [0, 1, 2, 3, 4], "description": "0 sent, 1 failed, 2 bad "
        "input (nothing sent), 3 in doubt, 4 stopped before the end (mwsync docs guarantees)"}
COUNTS = {"type": "object", "additionalProperties": INT}


def _null(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _list(item: dict) -> dict:
    return {"type": "array", "items": item}


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _obj(description: str, optional: tuple[str, ...] = (), **props: Any) -> dict:
    """A closed object: every property in `props` required but those named in `optional`."""
    return {"type": "object", "description": description, "properties": props,
            "required": [name for name in props if name not in optional], "additionalProperties": False}


def _defs() -> dict:
    failure = _obj("A failed, unknown (in doubt), pending or invalid message.",
                   key=_null(STR), row=_null(INT), state={"enum": ["failed", "unknown", "pending", "invalid"]},
                   status=_null(INT), code=_null(STR), error=_null(STR), recipients=INT)
    problem = _obj("A job-file, template or row problem; `rows` > 1: the same problem on `rows` rows from `row`.",
                   file=STR, line=_null(INT), where=STR, row=_null(INT), rows=_null(INT), message=STR)
    event_request = _obj("One request as it would be sent.", request=INT, event_id=STR, recipients=_list(STR),
                         recipient_count=INT, text=STR, slots={"type": "object", "additionalProperties": STR},
                         keys=_list(STR), rows=_list(INT))
    listener_request = _obj("One webhook-listener request as it would be sent: the JSON body and its size.",
                            request=INT, listener_id=STR, body={"type": "object"}, bytes=INT, keys=_list(STR),
                            rows=_list(INT))
    request = {"anyOf": [event_request, listener_request]}
    step = _obj("One step of `check`; `ok` null: not run.", name={"enum": ["credentials", "access token",
                                                                          "auth test"]},
                ok={"type": ["boolean", "null"]}, detail=STR, exit_code=EXIT)
    return {
        "failure": failure, "problem": problem,
        "error": _obj("What stopped the command before (or while) it could run the jobs.", ("problems",),
                      type=STR, message=STR, exit_code=EXIT, problems=_list(_ref("problem"))),
        "run_job": _obj("One job of `run` / `replay` (--report).", ("to_send", "planned"),
                        job=STR, file=STR, target=STR, journal=_obj("Where its journal is.", location=STR,
                                                                    shared=BOOL),
                        profile=_obj("The throttle profile.", name=STR, limit=INT, window_s=NUMBER),
                        dry_run=BOOL, messages={**COUNTS, "required": ["total", "sent", "skipped", "failed",
                                                                      "unknown", "invalid"]},
                        requests={"type": "object", "required": ["total", "by_status"],
                                  "properties": {"total": INT, "by_status": COUNTS, "planned": INT},
                                  "additionalProperties": False},
                        status_429=INT, recipients=INT, duration_s=NUMBER, stopped=_null(STR), exit_code=EXIT,
                        warnings=_list(STR), failures=_list(_ref("failure"))),
        "plan_job": _obj("One job of `plan --json`; a listener job also names its listener.", ("listener",),
                         job=STR, file=STR, target=STR, kind={"enum": ["event", "listener"]}, messages=INT,
                         filtered=INT,
                         recipients=INT, requests=INT, profile=STR,
                         estimate_s=_obj("Seconds to send: under the profile, and under the documented limit "
                                         "(Moveworks' default 120/min, or the listener's for its auth mode).",
                                         ("moveworks_default_120_per_min", "listener_limit"), profile=NUMBER,
                                         moveworks_default_120_per_min=NUMBER, listener_limit=NUMBER),
                         listener=_obj("The listener.", id=STR, auth={"enum": ["none", "api_key",
                                                                             "client_credentials", "hmac"]},
                                       limit=STR),
                         warnings=_list(STR)),
        "validate_job": _obj("One file of `validate --json`.", ("target", "profile"), job=_null(STR), file=STR,
                             ok=BOOL, target=STR, profile=STR, problems=_list(_ref("problem"))),
        "status_job": _obj("One job of `status --json`.", job=STR, file=STR, target=STR,
                           journal=_obj("Its journal.", location=STR, exists=BOOL, shared=BOOL),
                           messages=COUNTS, deliveries=COUNTS, failed=_list(_ref("failure")),
                           in_doubt=_list(_ref("failure")),
                           other_targets={"type": "object", "additionalProperties": INT,
                                          "description": "This job's other targets in the same journal: messages "
                                                         "in doubt for each."}),
        "preview_job": _obj("One job of `preview --json`.", job=STR, file=STR, target=STR, messages_total=INT,
                            requests_total=INT, row=_null(INT), messages=_list(request)),
        "check_job": _obj("One job of `check --json`.", job=STR, file=STR, target=STR, ok=BOOL, exit_code=EXIT,
                          steps=_list(step)),
    }


def report_schema() -> dict:
    """The schema (module docstring)."""
    top = _obj("An mwsync document: the same envelope for one job, several, and an error before sending.",
               mwsync={"type": "string", "description": "the mwsync version that wrote it"}, exit_code=EXIT,
               error=_null(_ref("error")), jobs=_list(_ref("run_job")))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "mwsync report", **top,
            "$defs": _defs()}
