"""`python -m bench`: run the benchmark and write the results table."""

import sys

from bench.run import main

sys.exit(main())
