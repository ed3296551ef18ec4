"""The vocabulary of the reasoning core: facts in (:mod:`.facts`, :mod:`.fact_index`, :mod:`.queries`),
findings out (:mod:`.findings`), concepts, thresholds and hooks; and the machinery every rule shares: the
rule declaration and catalogue (:mod:`.catalogue`), the call's context (:mod:`.context`) and the one finding
builder (:mod:`.finding_builder`, with the used-fact helpers of :mod:`.used_facts`).
"""
