"""Ray fan-out: one evaluation's problems searched by N Ray workers.

``thinktree eval ... --ray auto --workers 4`` (and evolve's search stages)
send problems to Ray actors, each with its own engine (llama.cpp in process,
or an ``openai`` client of a shared GPU server), sandbox pool, grader and
scorer. Rows stream back to the driver, the only writer of the run store, so a
killed driver resumes exactly as without Ray. Ray is an extra
(``pip install 'thinktree[ray]'``); nothing here imports it until ``--ray`` is
given. See :mod:`.dispatch` for scheduling, retries and determinism.
"""

from thinktree.eval.fanout.backend import SolverHandle, open_solver, ray_solver
from thinktree.eval.fanout.config import FanoutConfig
from thinktree.eval.fanout.session import INSTALL_HINT, RayUnavailableError, import_ray
from thinktree.eval.fanout.worker import EngineRecipe, WorkerKit, WorkerRecipe

__all__ = [
    "INSTALL_HINT",
    "EngineRecipe",
    "FanoutConfig",
    "RayUnavailableError",
    "SolverHandle",
    "WorkerKit",
    "WorkerRecipe",
    "import_ray",
    "open_solver",
    "ray_solver",
]
