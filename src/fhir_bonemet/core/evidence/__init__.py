"""Clinical evidence derived from facts: data per lesion, labs, pain,
renal function and dose arithmetic.
"""
