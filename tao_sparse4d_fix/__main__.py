import sys

from tao_sparse4d_fix.cli import main

sys.exit(main())
