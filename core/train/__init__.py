"""Training: the loop every task shares, its callbacks, optimizers, regularisers, fast paths,
several processes, and the fit-and-test flow that turns an assembled model into a finished run.
"""
