"""The ``drawledger`` command's launcher (``drawledger._script``): the one module of the
distribution's own name, so the command can start, and say what to install, before
anything of the server side is imported. The code lives in ``ledger`` and ``api``."""
