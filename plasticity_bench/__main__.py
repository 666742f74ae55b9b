import sys

from plasticity_bench.cli import main

sys.exit(main())
