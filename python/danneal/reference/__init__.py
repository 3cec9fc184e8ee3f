"""Plain numpy twins of every compiled kernel: same names, same argument order, written for
clarity rather than speed.  Tests compare each kernel with its twin (docs/design.md, "The kernel contract").

Each family lives in its own module; they are all re-exported here.
"""

from .pairwise import *  # noqa: F401,F403
from .softassign import *  # noqa: F401,F403
from .clam import *  # noqa: F401,F403
from .central import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
