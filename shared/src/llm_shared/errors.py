"""User-facing errors and the one-line CLI error handler every project uses.

A `UserError` is a problem with what the user asked for (a bad flag, a missing file, a model that
cannot be found). CLIs turn it into one line on stderr and exit code 2, never a traceback. So does
an `OSError` (an unwritable `--output`, a missing folder, a full disk): the file system said no to
a path the user chose. Anything else is a bug and keeps its traceback. Exercised by every
project's `tests/test_cli.py` and shared/tests/test_errors_threads_io.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix in one line."""


def cli_entry(main: Callable[[Sequence[str] | None], int]) -> Callable[[Sequence[str] | None], int]:
    """Wrap a `main(argv) -> int` so that UserError and OSError become `error: …` and exit code 2.

    >>> @cli_entry
    ... def main(argv=None):
    ...     raise UserError("--rank must be > 0 (got -1); pass a positive integer")
    >>> main([])  # prints "error: --rank must be > 0 (got -1); …" to stderr
    2
    """

    @wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            return main(argv)
        except UserError as exc:
            message = " ".join(str(exc).split())  # one line, whatever the message held
            print(f"error: {message}", file=sys.stderr)
            return EXIT_USER_ERROR
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            reason = exc.strerror or " ".join(str(exc).split())
            print(f"error: {reason}{where}; check that the path exists, is writable and that "
                  "the disk has space", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED

    return wrapper
