"""A plugin that cannot import: it needs a library this machine does not have."""

raise ImportError("tk-broken needs the 'libfoo' package; pip install libfoo")
