Profile: BonemetBoneMetastasisCondition
Parent: $mcode-scc
Id: bonemet-bone-metastasis-condition
Title: "Bone metastasis (fhir-bonemet)"
Description: "An mCODE SecondaryCancerCondition that is a bone metastasis, as the service reads it: a code of the bone-metastasis ValueSet, a skeletal body site (SNOMED CT, with the spinal level or region in bodySite.text and the mCODE laterality qualifier), and the primary cancer through the related-condition extension. Without a body site the service cannot tell the skeletal site class and keeps its advice at the most cautious tier."
* code from $vs-bone-metastasis (required)
* clinicalStatus 1..1 MS
* verificationStatus MS
* bodySite MS
* bodySite.coding 1..*
* obeys bonemet-site-known
* bodySite.text MS
* bodySite.extension[lateralityQualifier] MS
* bodySite.extension[lateralityQualifier].valueCodeableConcept from $vs-laterality (required)
* extension[relatedPrimaryCancerCondition] MS
* onset[x] MS

Invariant: bonemet-site-known
Description: "A body site is given: without one the service cannot tell the skeletal site class, keeps its exercise advice at the most cautious tier and says on the card that the site is missing."
Expression: "bodySite.exists()"
Severity: #warning

Instance: example-bone-metastasis-condition
InstanceOf: BonemetBoneMetastasisCondition
Title: "Example: lytic metastasis of the left proximal femur from prostate cancer"
Usage: #example
* clinicalStatus = $condition-clinical#active "Active"
* verificationStatus = $condition-ver-status#confirmed "Confirmed"
* category[us-core] = $condition-category#problem-list-item "Problem List Item"
* code.coding[0] = $sct#94222008 "Secondary malignant neoplasm of bone"
* code.coding[1] = $icd10cm#C79.51 "Secondary malignant neoplasm of bone"
* code.text = "Bone metastasis"
* bodySite[0].coding[0] = $sct#71341001 "Bone structure of femur"
* bodySite[0].text = "Left proximal femur"
* bodySite[0].extension[lateralityQualifier].valueCodeableConcept = $sct#7771000 "Left"
* subject = Reference(Patient/example-patient)
* onsetDateTime = "2025-04-20"
* extension[relatedPrimaryCancerCondition].valueReference = Reference(Condition/example-primary-prostate)
