"""Request inspection: is a request ``normal``, ``invalid`` or ``malicious``, and why.

Sans-IO and framework-free: an :class:`Inspector` takes a :class:`RequestInfo` and returns an
:class:`Inspection` (a verdict, a score, :class:`Finding` s with type, location, evidence and
rule id). A :class:`Shield` puts it on every request the guard sees: an event for each request
that is not normal, and in ``block`` mode a 403 for the malicious ones
(:class:`ShieldConfig`: ``[tool.bulletproof.shield]``). ``bulletproof inspect FILE.jsonl``
runs it over recorded requests.

>>> from bulletproof.detect import Inspector, RequestInfo
>>> Inspector().inspect(RequestInfo("GET", "/.env")).verdict
'malicious'

Added in 0.1.
"""

from bulletproof.detect._inspector import Exclusion, Finding, Inspection, Inspector, Verdict
from bulletproof.detect._request import RequestInfo
from bulletproof.detect._settings import ShieldConfig
from bulletproof.detect._shield import Judged, Shield

__all__ = [
    "Exclusion",
    "Finding",
    "Inspection",
    "Inspector",
    "Judged",
    "RequestInfo",
    "Shield",
    "ShieldConfig",
    "Verdict",
]
