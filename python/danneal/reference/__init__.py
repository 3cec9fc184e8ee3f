"""Plain numpy twins of every compiled kernel: same names, same argument order, written for
clarity rather than speed.  Tests compare each kernel with its twin (docs/design.md §2, "the kernel contract").

Each family lives in its own module; they are all re-exported here.
"""

from .central import *  # noqa: F403
from .clam import *  # noqa: F403
from .losses import *  # noqa: F403
from .pairwise import *  # noqa: F403
from .qap import *  # noqa: F403
from .sinkhorn_batch import *  # noqa: F403
from .softassign import *  # noqa: F403
