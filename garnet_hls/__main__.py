import sys

from garnet_hls.cli import main

sys.exit(main())
