import sys

from tao_sparse4d_fix.commands.cli import main

sys.exit(main())
