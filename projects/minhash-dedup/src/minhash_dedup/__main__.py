"""`python -m minhash_dedup` = the `minhash-dedup` command."""

import sys

from .cli import main

sys.exit(main())
