"""The `tk` command line: the app, its core commands, and the commands built from each task.
Nothing else in taskkit imports this package; it imports the rest.
"""
