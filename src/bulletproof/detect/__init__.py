"""Request inspection: is a request ``normal``, ``invalid`` or ``malicious``, and why.

Sans-IO and framework-free: an :class:`Inspector` takes a :class:`RequestInfo` and returns an
:class:`Inspection` (a verdict, a score, :class:`Finding` s with type, location, evidence and
rule id). The guard runs it on every request (``[tool.bulletproof.shield]``); ``bulletproof
inspect FILE.jsonl`` runs it over recorded requests.

>>> from bulletproof.detect import Inspector, RequestInfo
>>> Inspector().inspect(RequestInfo("GET", "/.env")).verdict
'malicious'

Added in 0.1.
"""

from bulletproof.detect._inspector import Exclusion, Finding, Inspection, Inspector, Verdict
from bulletproof.detect._request import RequestInfo

__all__ = ["Exclusion", "Finding", "Inspection", "Inspector", "RequestInfo", "Verdict"]
