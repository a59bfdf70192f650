"""Built-in plugins. Each module here is declared as an entry point in group `taskkit` and
registers its components exactly as a third-party plugin would."""
