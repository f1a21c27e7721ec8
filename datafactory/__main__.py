"""``python -m datafactory`` runs the CLI, as the ``datafactory`` script does."""

from datafactory.cli import main

main()
