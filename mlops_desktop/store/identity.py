"""Who is acting: the name people chose for the team's history, else the OS user."""

import getpass
import os

#: Environment variable that names the person in the history instead of the OS account.
ACTOR_ENV = "MLOPS_DESKTOP_USER"


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # getuser raises OSError or KeyError when no name can be found
        return "unknown"


def current_actor() -> str:
    return os.environ.get(ACTOR_ENV, "").strip() or os_user()
