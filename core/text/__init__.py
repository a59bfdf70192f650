"""Text data for the sequence tasks: tables of labelled texts, vocabularies, batches, embeddings.

Kept apart from the image data because nothing is shared but the split logic, which these
modules import from `taskkit.data.splits`.
"""
