"""Red flags that come before any advice: cord compression, hypercalcaemia, fracture, pain
escalation, cytopenia.
"""
