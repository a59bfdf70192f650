"""`python -m taskkit` runs the same CLI as `tk`."""

from taskkit.cli.app import main

if __name__ == "__main__":
    main()
