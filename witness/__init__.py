"""A witness as its own service (C2SP tlog-witness v1.0.0), run by an audit body.

``python -m witness serve --key FILE --state DIR --log-policy FILE --listen HOST:PORT``
answers ``POST /add-checkpoint`` with the check the verifier defines
(``verifier._witness``); ``python -m witness keygen --name N --out DIR`` makes its key.
Imports the verifier only, never ``ledger`` or ``api``: the audit body installs the
verifier's dependencies and nothing of the operator's.
"""

from witness._errors import WitnessError
from witness._policy import LogPolicy, load_log_policy, parse_log_policy
from witness._server import WitnessServer

__all__ = ["LogPolicy", "WitnessError", "WitnessServer", "load_log_policy",
           "parse_log_policy"]
