"""plasticity-bench: loss of plasticity measured as the warm-start generalisation gap.

Reproduces and extends Berariu et al., "A study on the plasticity of neural
networks" (2021), on Avalanche. Positive gap = the warm-started model
generalises worse than the same network trained from scratch on the final data.
"""

__version__ = "0.1.0"
