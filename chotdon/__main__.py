import sys

from chotdon.cli import main

sys.exit(main())
