"""``python -m client``: the same as ``drawledger-client``."""

import sys

from client._cli import main

sys.exit(main())
