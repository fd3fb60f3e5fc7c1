"""``python -m alphaforge``: the same as the ``alphaforge`` command."""

from alphaforge.cli.app import main

if __name__ == "__main__":
    main()
