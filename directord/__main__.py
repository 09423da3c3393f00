"""``python -m directord``."""

import sys

from directord.shell import main

sys.exit(main())
