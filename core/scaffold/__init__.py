"""`tk plugin new`: a plugin package written from templates, ready to install, list and test.
It imports nothing of taskkit's beyond the registries it names.
"""
