"""drawledger's HTTP edge over ``ledger``: public, read-only views of the log."""

from api._app import create_app

__all__ = ["create_app"]
