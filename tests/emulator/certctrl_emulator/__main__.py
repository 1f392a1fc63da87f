import sys

from .testing import main

sys.exit(main())
