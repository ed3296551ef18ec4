"""The FHIR resources the service sends: the CarePlan with its Goals, ServiceRequest
referrals, and their codes.
"""
