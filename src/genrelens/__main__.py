"""``python -m genrelens`` runs the command line."""

from genrelens.cli import entry

if __name__ == "__main__":
    entry()
