"""plasticity-bench: loss of plasticity measured as the warm-start generalisation gap.

Reproduces and extends Berariu et al., "A study on the plasticity of neural
networks" (2021), on Avalanche. Positive gap = the warm-started model
generalises worse than the same network trained from scratch on the final data.
"""

__version__ = "0.1.0"

import warnings as _warnings

# Avalanche imports qpsolvers (for GEM-style strategies we do not use), which warns
# when no QP solver is installed.
_warnings.filterwarnings("ignore", message="no QP solver found", category=UserWarning)
