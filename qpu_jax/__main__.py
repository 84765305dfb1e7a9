import sys

from qpu_jax.cli import main

sys.exit(main())
