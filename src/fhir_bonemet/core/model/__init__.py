"""The vocabulary of the reasoning core: facts in, findings out, concepts, thresholds and
the rule catalogue.
"""
