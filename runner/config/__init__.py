"""Job files: what the YAML says (`models`), reading it (`yamlfile`), environment references (`envref`),
building what runs (`build` -> `job`), all through `load_job`.

After `load_job(path)` nothing downstream sees a raw dict or an unresolved `${ENV}` reference.
"""

from .build import credentials_problem, parse_throttle
from .job import Job, MessageSpec, RetryPolicy, SourceSpec, Subscription
from .loader import load_job
from .models import job_schema

__all__ = ["Job", "MessageSpec", "RetryPolicy", "SourceSpec", "Subscription", "credentials_problem", "job_schema",
           "load_job", "parse_throttle"]
