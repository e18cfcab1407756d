"""drawledger's department client (``drawledger-client``): keys, offline signing,
submission over HTTP, receipts and what is due.

Imports the verifier and the standard library only; never ``ledger`` or ``api``: a
department runs it on its own machine with its own key, and needs none of the server.
"""

from client._cli import main

__all__ = ["main"]
