"""minde: mutual information and entropy estimation with score-based diffusion (MINDE, ICLR 2024).

Quick use::

    import minde
    r = minde.MINDE(kind="c", budget="quick").fit(x, y).estimate(x_test, y_test)
    r.mi, r.mi_sigma, r.entropies
"""
from .api import KINDS, MIEstimate, MINDE, estimate_mi
from .config import BUDGETS, Budget, get_budget
from .gaussian import GaussianOracle, gaussian_entropy, gaussian_mi
from .importance import ImportanceSampler, UniformSampler, make_sampler
from .network import ScoreNet
from .sde import VPSDE
from .training import TrainingDivergedError

__version__ = "0.1.0"

__all__ = ["MINDE", "MIEstimate", "estimate_mi", "KINDS", "BUDGETS", "Budget", "get_budget",
           "VPSDE", "ImportanceSampler", "UniformSampler", "make_sampler", "ScoreNet",
           "GaussianOracle", "gaussian_mi", "gaussian_entropy", "TrainingDivergedError",
           "__version__"]
